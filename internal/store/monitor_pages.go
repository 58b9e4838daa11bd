package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// What the tenant pages show of a tenant's monitors beside their rows:
// each monitor's subscription, and the users a monitor covers, a page at
// a time.

// MonitorSubscription is a monitor's subscription as the pages show it.
type MonitorSubscription struct {
	Active           bool // Graph holds it (created, not abandoned)
	ExpiresAt        *time.Time
	RenewedAt        *time.Time
	RenewRequestedAt *time.Time // Renew asked for, not yet done
	LastError        string
}

// MonitorSubscriptions reads the tenant's subscriptions by monitor.
func (s *Store) MonitorSubscriptions(ctx context.Context, tenantID uuid.UUID) (map[uuid.UUID]MonitorSubscription, error) {
	rows, err := s.db.Query(ctx, `SELECT monitor_id, graph_id IS NOT NULL AND abandoned_at IS NULL, expires_at, renewed_at,
			renew_requested_at, coalesce(last_error, '')
		FROM subscriptions WHERE tenant_id = $1`, tenantID)
	if err != nil {
		return nil, wrap("monitor subscriptions", err)
	}
	out := map[uuid.UUID]MonitorSubscription{}
	var id uuid.UUID
	var x MonitorSubscription
	_, err = pgx.ForEachRow(rows, []any{&id, &x.Active, &x.ExpiresAt, &x.RenewedAt, &x.RenewRequestedAt, &x.LastError}, func() error {
		out[id] = x
		return nil
	})
	return out, wrap("monitor subscriptions", err)
}

// MonitorUsersPage lists up to limit of the users assigned to a monitor
// of the tenant, in UPN order after the cursor after (the lower-cased UPN
// of the previous page's last row).
func (s *Store) MonitorUsersPage(ctx context.Context, tenantID, monitorID uuid.UUID, after string, limit int) ([]DirectoryUser, error) {
	rows, err := s.db.Query(ctx, directoryUsersFrom+`
		WHERE d.tenant_id = $1 AND d.monitor_id = $2 AND lower(d.upn) > $3
		ORDER BY lower(d.upn) LIMIT $4`, tenantID, monitorID, after, limit)
	if err != nil {
		return nil, wrap("monitor users page", err)
	}
	v, err := pgx.CollectRows(rows, scanDirectoryUser)
	return v, wrap("monitor users page", err)
}
