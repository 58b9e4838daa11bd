package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// TenantApp is a tenant's own app registration ("bring your own app"),
// used instead of our multi-tenant app.
type TenantApp struct {
	TenantID           uuid.UUID
	ClientID           uuid.UUID
	AppTenantID        uuid.UUID
	SecretExpiresAt    *time.Time
	SecretExpirySource string // graph or admin
}

// ErrNoTenantApp means the tenant uses our multi-tenant app.
var ErrNoTenantApp = errors.New("the tenant uses Presence Bridge's app registration")

// GetTenantApp reads the tenant's own app registration.
func (s *Store) GetTenantApp(ctx context.Context, tenantID uuid.UUID) (TenantApp, error) {
	a := TenantApp{TenantID: tenantID}
	var src *string
	err := s.db.QueryRow(ctx, `SELECT client_id, app_tenant_id, secret_expires_at, secret_expiry_source FROM tenant_apps WHERE tenant_id = $1`, tenantID).
		Scan(&a.ClientID, &a.AppTenantID, &a.SecretExpiresAt, &src)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, ErrNoTenantApp
	}
	if src != nil {
		a.SecretExpirySource = *src
	}
	return a, wrap("get tenant app", err)
}

// TenantAppSecret opens the tenant app's client secret.
func (s *Store) TenantAppSecret(ctx context.Context, tenantID uuid.UUID) (string, error) {
	var id *uuid.UUID
	err := s.db.QueryRow(ctx, `SELECT client_secret_id FROM tenant_apps WHERE tenant_id = $1`, tenantID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && id == nil) {
		return "", ErrNoTenantApp
	}
	if err != nil {
		return "", wrap("tenant app secret", err)
	}
	b, err := s.OpenSecret(ctx, &tenantID, *id, PurposeClientSecret)
	return string(b), wrap("tenant app secret", err)
}

// PutTenantApp stores (or replaces) the tenant's own app registration with
// its sealed secret, and reports whether the client or tenant id changed
// (or the tenant moves from our app to its own): then every monitor's grant
// belongs to the old app and is marked "needs update" in the same
// transaction.
func (s Tx) PutTenantApp(ctx context.Context, a TenantApp, secret string) (changed bool, err error) {
	old, err := s.GetTenantApp(ctx, a.TenantID)
	exists := err == nil
	if err != nil && !errors.Is(err, ErrNoTenantApp) {
		return false, wrap("put tenant app", err)
	}
	var secretID *uuid.UUID
	if exists {
		if err := s.db.QueryRow(ctx, `SELECT client_secret_id FROM tenant_apps WHERE tenant_id = $1 FOR UPDATE`, a.TenantID).Scan(&secretID); err != nil {
			return false, wrap("put tenant app", err)
		}
	}
	sid, err := s.putOrReplace(ctx, secretID, a.TenantID, PurposeClientSecret, secret)
	if err != nil {
		return false, wrap("put tenant app", err)
	}
	var src *string
	if a.SecretExpirySource != "" {
		src = &a.SecretExpirySource
	}
	_, err = s.db.Exec(ctx, `INSERT INTO tenant_apps (tenant_id, client_id, app_tenant_id, client_secret_id, secret_expires_at, secret_expiry_source)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (tenant_id) DO UPDATE SET client_id = excluded.client_id, app_tenant_id = excluded.app_tenant_id,
			client_secret_id = excluded.client_secret_id, secret_expires_at = excluded.secret_expires_at,
			secret_expiry_source = excluded.secret_expiry_source, updated_at = now()`,
		a.TenantID, a.ClientID, a.AppTenantID, sid, a.SecretExpiresAt, src)
	if err != nil {
		return false, wrap("put tenant app", err)
	}
	changed = !exists || old.ClientID != a.ClientID || old.AppTenantID != a.AppTenantID
	if changed {
		_, err = s.db.Exec(ctx, `UPDATE monitors SET status = 'needs_update', last_error = 'The app registration changed: sign in again.',
			updated_at = now() WHERE tenant_id = $1 AND status IN ('authorized', 'needs_reauth')`, a.TenantID)
	}
	return changed, wrap("put tenant app", err)
}
