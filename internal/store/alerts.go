package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Alert kinds.
const (
	AlertMonitorNeedsReauth = "monitor_needs_reauth"
	AlertUsersUnmonitored   = "users_unmonitored"
	// AlertWriteBackConsent: the tenant has not granted the permission
	// writing presence into Teams takes (the subject names it); presence
	// is still read.
	AlertWriteBackConsent = "write_back_consent"
)

// Alert is a condition a tenant's admin must act on.
type Alert struct {
	ID         int64
	TenantID   uuid.UUID
	Kind       string
	Subject    string
	Message    string
	Detail     map[string]any
	RaisedAt   time.Time
	ResolvedAt *time.Time
}

// RaiseAlert opens an alert, or refreshes the open one of the same kind
// and subject (one open alert per condition, however often it is seen).
func (s *Store) RaiseAlert(ctx context.Context, tenantID uuid.UUID, kind, subject, message string, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return wrap("raise alert", err)
	}
	_, err = s.db.Exec(ctx, `INSERT INTO alerts (tenant_id, kind, subject, message, detail) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (tenant_id, kind, subject) WHERE resolved_at IS NULL
		DO UPDATE SET message = excluded.message, detail = excluded.detail, updated_at = now()`, tenantID, kind, subject, message, b)
	return wrap("raise alert", err)
}

// ResolveAlert closes the open alert of that kind and subject, if any.
func (s *Store) ResolveAlert(ctx context.Context, tenantID uuid.UUID, kind, subject string) error {
	_, err := s.db.Exec(ctx, `UPDATE alerts SET resolved_at = now(), updated_at = now()
		WHERE tenant_id = $1 AND kind = $2 AND subject = $3 AND resolved_at IS NULL`, tenantID, kind, subject)
	return wrap("resolve alert", err)
}

// Alerts lists a tenant's alerts, open ones first, newest first.
func (s *Store) Alerts(ctx context.Context, tenantID uuid.UUID) ([]Alert, error) {
	rows, err := s.db.Query(ctx, `SELECT id, tenant_id, kind, subject, message, detail, raised_at, resolved_at FROM alerts
		WHERE tenant_id = $1 ORDER BY resolved_at IS NOT NULL, raised_at DESC, id DESC`, tenantID)
	if err != nil {
		return nil, wrap("alerts", err)
	}
	v, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Alert, error) {
		var a Alert
		return a, r.Scan(&a.ID, &a.TenantID, &a.Kind, &a.Subject, &a.Message, &a.Detail, &a.RaisedAt, &a.ResolvedAt)
	})
	return v, wrap("alerts", err)
}
