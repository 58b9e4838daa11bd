package store

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// RosterUser is a resolved user to monitor and its current monitor.
type RosterUser struct {
	ObjectID  uuid.UUID
	MonitorID *uuid.UUID
}

// ResolvedRoster lists a tenant's users that have a Graph object id, in a
// stable order (oldest first, so earlier users are placed first).
func (s *Store) ResolvedRoster(ctx context.Context, tenantID uuid.UUID) ([]RosterUser, error) {
	rows, err := s.db.Query(ctx, `SELECT object_id, monitor_id FROM directory_users
		WHERE tenant_id = $1 AND object_id IS NOT NULL AND resolution_status = 'resolved' ORDER BY seq`, tenantID)
	if err != nil {
		return nil, wrap("resolved roster", err)
	}
	v, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RosterUser, error) {
		var u RosterUser
		return u, r.Scan(&u.ObjectID, &u.MonitorID)
	})
	return v, wrap("resolved roster", err)
}

// AssignUsers records users' monitors (nil: unmonitored).
func (s *Store) AssignUsers(ctx context.Context, tenantID uuid.UUID, users []uuid.UUID, monitors []*uuid.UUID) error {
	if len(users) == 0 {
		return nil
	}
	_, err := s.db.Exec(ctx, `UPDATE directory_users d SET monitor_id = a.monitor_id, updated_at = now()
		FROM unnest($2::uuid[], $3::uuid[]) AS a (object_id, monitor_id)
		WHERE d.tenant_id = $1 AND d.object_id = a.object_id`, tenantID, users, monitors)
	return wrap("assign users", err)
}

// AuthorizedMonitors lists the monitors that may hold subscriptions.
func (s *Store) AuthorizedMonitors(ctx context.Context, tenantID uuid.UUID) ([]Monitor, error) {
	ms, err := s.Monitors(ctx, tenantID)
	if err != nil {
		return nil, wrap("authorized monitors", err)
	}
	out := ms[:0]
	for _, m := range ms {
		if m.Status == MonitorAuthorized {
			out = append(out, m)
		}
	}
	return out, nil
}

// RosterCount counts a tenant's users to monitor.
func (s *Store) RosterCount(ctx context.Context, tenantID uuid.UUID) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM directory_users WHERE tenant_id = $1`, tenantID).Scan(&n)
	return n, wrap("roster count", err)
}
