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

// AssignUsers records users' monitors (nil: unmonitored). A user is placed
// only on a monitor of the tenant that still exists; one whose monitor was
// deleted meanwhile keeps its placement (DeleteMonitor clears it) for the
// next pass to place again.
func (s *Store) AssignUsers(ctx context.Context, tenantID uuid.UUID, users []uuid.UUID, monitors []*uuid.UUID) error {
	if len(users) == 0 {
		return nil
	}
	return s.InTx(ctx, func(tx Tx) error {
		// directory_users has no key to monitors (migration 000056): the
		// monitors are locked here as the key's check locked them, so that
		// a DeleteMonitor waits for this placement to commit and then
		// clears it, and one that went first leaves its monitor out. The
		// monitors are locked before any user row, as DeleteMonitor locks
		// them, so the two never wait on each other in opposite orders.
		rows, err := tx.db.Query(ctx, `SELECT id FROM monitors WHERE tenant_id = $1 AND id = ANY($2::uuid[])
			ORDER BY id FOR KEY SHARE`, tenantID, monitors)
		if err != nil {
			return wrap("assign users", err)
		}
		live, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return wrap("assign users", err)
		}
		// Not a change of the roster (migration 000057): the
		// reconciliation placing them makes the subscriptions cover this
		// placement, and the next pass need not read the roster for it.
		// The setting is the transaction's; it is set back so that a
		// write after this one in an enclosing transaction is recorded.
		_, err = tx.db.Exec(ctx, `SELECT set_config('presencebridge.placing', 'on', true)`)
		if err != nil {
			return wrap("assign users", err)
		}
		_, err = tx.db.Exec(ctx, `UPDATE directory_users d SET monitor_id = a.monitor_id, updated_at = now()
			FROM unnest($2::uuid[], $3::uuid[]) AS a (object_id, monitor_id)
			WHERE d.tenant_id = $1 AND d.object_id = a.object_id
			AND (a.monitor_id IS NULL OR a.monitor_id = ANY($4::uuid[]))`, tenantID, users, monitors, live)
		if err != nil {
			return wrap("assign users", err)
		}
		_, err = tx.db.Exec(ctx, `SELECT set_config('presencebridge.placing', 'off', true)`)
		return wrap("assign users", err)
	})
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
