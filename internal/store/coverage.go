package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// What "Verify configuration" compares: each monitor's Graph subscription
// beside the users the roster assigns it, and the users no monitor covers.

// Coverage is one monitor of a tenant, the resolved users assigned to it
// (their Graph object ids) and its subscription as we last recorded it.
type Coverage struct {
	MonitorID uuid.UUID
	UPN       string
	Status    string // the monitor's (Monitor*)
	Assigned  []uuid.UUID
	// GraphID is "" when the monitor holds no subscription at Graph (none
	// made, or only begun); Resource is what it was made for.
	GraphID   string
	Resource  string
	ExpiresAt *time.Time
	Abandoned bool
	LastError string
	// CreatedAt is when the subscription row was last (re)made: Graph
	// validated our notification URL then.
	CreatedAt *time.Time
}

// SubscriptionCoverage reads every monitor of the tenant (removed ones
// excepted) with its assigned resolved users and its subscription, in the
// order the monitors were added.
func (s *Store) SubscriptionCoverage(ctx context.Context, tenantID uuid.UUID) ([]Coverage, error) {
	// The tenant's users are grouped by monitor in one read: monitor_id
	// has no index (migration 000056).
	rows, err := s.db.Query(ctx, `SELECT m.id, m.upn, m.status, coalesce(d.assigned, '{}'),
			coalesce(s.graph_id, ''), coalesce(s.resource, ''), s.expires_at, s.abandoned_at IS NOT NULL,
			coalesce(s.last_error, ''), s.created_at
		FROM monitors m LEFT JOIN subscriptions s ON s.monitor_id = m.id
		LEFT JOIN (SELECT monitor_id, array_agg(object_id ORDER BY object_id) AS assigned FROM directory_users
			WHERE tenant_id = $1 AND monitor_id IS NOT NULL AND resolution_status = 'resolved' AND object_id IS NOT NULL
			GROUP BY monitor_id) d ON d.monitor_id = m.id
		WHERE m.tenant_id = $1 AND m.removed_at IS NULL ORDER BY m.created_at, m.id`, tenantID)
	if err != nil {
		return nil, wrap("subscription coverage", err)
	}
	v, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Coverage, error) {
		var c Coverage
		return c, r.Scan(&c.MonitorID, &c.UPN, &c.Status, &c.Assigned, &c.GraphID, &c.Resource, &c.ExpiresAt, &c.Abandoned,
			&c.LastError, &c.CreatedAt)
	})
	return v, wrap("subscription coverage", err)
}

// LastNotificationAt is when a notification of any of the tenant's
// subscriptions last arrived (nil: none yet), to the minute: a stamp is
// moved only once it is a minute behind (CompleteInboxBatch).
func (s *Store) LastNotificationAt(ctx context.Context, tenantID uuid.UUID) (*time.Time, error) {
	var at *time.Time
	err := s.db.QueryRow(ctx, `SELECT max(last_notification_at) FROM subscriptions WHERE tenant_id = $1`, tenantID).Scan(&at)
	return at, wrap("last notification", err)
}
