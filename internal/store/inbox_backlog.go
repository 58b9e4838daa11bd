package store

import "context"

// InboxBacklog counts the inbox rows not processed yet: notifications
// acknowledged to Graph whose outcome is still to come. The fault suite's
// ledger counts them as pending, not lost.
func (s *Store) InboxBacklog(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM inbox`).Scan(&n)
	return n, wrap("inbox backlog", err)
}
