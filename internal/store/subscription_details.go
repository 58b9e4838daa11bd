package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// SubscriptionDetail is one of a tenant's subscriptions as support reads it
// (the console's Support page): which monitor holds it, when Graph lets it
// expire and how the engine has kept it.
type SubscriptionDetail struct {
	ID                 uuid.UUID
	MonitorUPN         string
	GraphID            string // "" while not yet created at Graph
	Users              int
	ExpiresAt          *time.Time
	RenewedAt          *time.Time
	Renewals           int
	LastNotificationAt *time.Time
	LastError          string
	// AbandonedAt: its monitor's grant is gone, so the subscription is
	// left to expire at Graph.
	AbandonedAt *time.Time
	CreatedAt   time.Time
}

// SubscriptionDetails lists a tenant's subscriptions, the soonest to
// expire first (never created last): one a monitor, so a few hundred at
// most.
func (s *Store) SubscriptionDetails(ctx context.Context, tenantID uuid.UUID) ([]SubscriptionDetail, error) {
	rows, err := s.db.Query(ctx, `SELECT s.id, m.upn, coalesce(s.graph_id, ''), s.user_count, s.expires_at, s.renewed_at, s.renewals,
			s.last_notification_at, coalesce(s.last_error, ''), s.abandoned_at, s.created_at
		FROM subscriptions s JOIN monitors m ON m.id = s.monitor_id
		WHERE s.tenant_id = $1 ORDER BY s.expires_at NULLS LAST, m.upn, s.id`, tenantID)
	if err != nil {
		return nil, wrap("subscription details", err)
	}
	v, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SubscriptionDetail, error) {
		var x SubscriptionDetail
		return x, r.Scan(&x.ID, &x.MonitorUPN, &x.GraphID, &x.Users, &x.ExpiresAt, &x.RenewedAt, &x.Renewals,
			&x.LastNotificationAt, &x.LastError, &x.AbandonedAt, &x.CreatedAt)
	})
	return v, wrap("subscription details", err)
}
