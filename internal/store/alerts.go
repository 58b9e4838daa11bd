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
	// AlertEndpointDisabled: a webhook endpoint (the subject) answered 410
	// Gone and was disabled; resolved when it is enabled or deleted.
	AlertEndpointDisabled = "endpoint_disabled"
	// AlertSecretExpiring: the client secret of the tenant's own app
	// registration expires soon; the subject is the stage ("30", "7" or
	// "1" days), each graver stage superseding the one before.
	AlertSecretExpiring = "app_secret_expiring"
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
	v, err := pgx.CollectRows(rows, scanAlert)
	return v, wrap("alerts", err)
}

func scanAlert(r pgx.CollectableRow) (Alert, error) {
	var a Alert
	return a, r.Scan(&a.ID, &a.TenantID, &a.Kind, &a.Subject, &a.Message, &a.Detail, &a.RaisedAt, &a.ResolvedAt)
}

// RaiseAlertStage raises the alert of kind about subject and supersedes
// the tenant's other open alerts of that kind: resolved, but marked so
// that no "resolved" mail says the condition is over (a client secret's
// 7-day warning replaces its 30-day one).
func (s *Store) RaiseAlertStage(ctx context.Context, tenantID uuid.UUID, kind, subject, message string, detail map[string]any) error {
	return s.InTx(ctx, func(tx Tx) error {
		_, err := tx.db.Exec(ctx, `UPDATE alerts SET resolved_at = now(), updated_at = now(), superseded = true
			WHERE tenant_id = $1 AND kind = $2 AND subject <> $3 AND resolved_at IS NULL`, tenantID, kind, subject)
		if err != nil {
			return wrap("raise alert stage", err)
		}
		return tx.RaiseAlert(ctx, tenantID, kind, subject, message, detail)
	})
}

// SecretExpiry is when a tenant's own app's client secret expires (nil:
// not known, or no own app) for a tenant that has one or an open alert of
// kind.
type SecretExpiry struct {
	TenantID  uuid.UUID
	ClientID  *uuid.UUID
	ExpiresAt *time.Time
}

// SecretExpiries lists the active tenants whose own app's secret expiry is
// known, and every tenant with an open alert of kind (its secret may have
// been replaced, or the app removed).
func (s *Store) SecretExpiries(ctx context.Context, kind string) ([]SecretExpiry, error) {
	rows, err := s.db.Query(ctx, `SELECT t.id, a.client_id, CASE WHEN t.status = 'active' THEN a.secret_expires_at END FROM tenants t
		LEFT JOIN tenant_apps a ON a.tenant_id = t.id
		WHERE (t.status = 'active' AND a.secret_expires_at IS NOT NULL)
			OR EXISTS (SELECT 1 FROM alerts al WHERE al.tenant_id = t.id AND al.kind = $1 AND al.resolved_at IS NULL)
		ORDER BY t.id`, kind)
	if err != nil {
		return nil, wrap("secret expiries", err)
	}
	v, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SecretExpiry, error) {
		var e SecretExpiry
		return e, r.Scan(&e.TenantID, &e.ClientID, &e.ExpiresAt)
	})
	return v, wrap("secret expiries", err)
}
