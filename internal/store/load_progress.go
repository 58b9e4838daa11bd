package store

import "context"

// What a load run (internal/loadbench) waits on instead of fixed sleeps,
// deployment-wide: each is one count the indexes answer.

// StoredPresences counts the users whose presence is stored: a cold
// start's first states are in once it reaches the users subscribed.
func (s *Store) StoredPresences(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM presence`).Scan(&n)
	return n, wrap("stored presences", err)
}

// PendingDeliveries counts the deliveries not made yet, of every endpoint
// (deliveries_due_idx holds exactly them): with InboxBacklog, what the
// product has still to send of what Graph told it.
func (s *Store) PendingDeliveries(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE status = 'pending'`).Scan(&n)
	return n, wrap("pending deliveries", err)
}
