package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Tenant statuses (tenants.status).
const (
	TenantOnboarding = "onboarding"
	TenantActive     = "active"
	TenantSuspended  = "suspended"
	TenantDeleted    = "deleted"
)

// Errors of the tenant aggregate.
var (
	ErrTenantNotFound = errors.New("tenant not found")
	// ErrMicrosoftTenantTaken: another of our tenants is already connected
	// to that Microsoft tenant.
	ErrMicrosoftTenantTaken = errors.New("that Microsoft tenant is already connected to another Presence Bridge tenant")
)

// Tenant is a customer.
type Tenant struct {
	ID                  uuid.UUID
	Name                string
	MSTenantID          *uuid.UUID
	MSDomain            string
	TelephonyAccountID  string
	AdminEmail          string
	AllowPasswordSignIn bool
	Status              string
	CreatedAt           time.Time
}

// Onboarding is a tenant's onboarding state.
type Onboarding struct {
	TenantID        uuid.UUID
	InviteExpiresAt time.Time
	Form            json.RawMessage
	ConsentStatus   string // pending, granted, failed
	ConsentError    string
	ConsentedAt     *time.Time
	CompletedAt     *time.Time
}

const tenantColumns = `id, name, ms_tenant_id, coalesce(ms_domain, ''), coalesce(telephony_account_id, ''), coalesce(admin_email, ''),
	allow_password_signin, status, created_at`

// tenantFields are the destinations of tenantColumns in t.
func tenantFields(t *Tenant) []any {
	return []any{&t.ID, &t.Name, &t.MSTenantID, &t.MSDomain, &t.TelephonyAccountID, &t.AdminEmail, &t.AllowPasswordSignIn, &t.Status, &t.CreatedAt}
}

func scanTenant(row pgx.Row) (Tenant, error) {
	var t Tenant
	err := row.Scan(tenantFields(&t)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ErrTenantNotFound
	}
	return t, err
}

// CreateTenant starts a tenant in onboarding, with its onboarding row.
func (s *Store) CreateTenant(ctx context.Context, name string, inviteExpires time.Time) (Tenant, error) {
	t, err := scanTenant(s.db.QueryRow(ctx, `INSERT INTO tenants (name) VALUES ($1) RETURNING `+tenantColumns, name))
	if err != nil {
		return t, fmt.Errorf("create tenant: %w", err)
	}
	_, err = s.db.Exec(ctx, `INSERT INTO onboarding (tenant_id, invite_expires_at) VALUES ($1, $2)`, t.ID, inviteExpires)
	return t, wrap("create tenant", err)
}

// GetTenant reads a tenant.
func (s *Store) GetTenant(ctx context.Context, id uuid.UUID) (Tenant, error) {
	v, err := scanTenant(s.db.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id))
	return v, wrap("get tenant", err)
}

// TenantByMicrosoftTenant reads the tenant connected to a Microsoft tenant
// (consent confirmed for it); ErrTenantNotFound when none is.
func (s *Store) TenantByMicrosoftTenant(ctx context.Context, msTenant uuid.UUID) (Tenant, error) {
	v, err := scanTenant(s.db.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE ms_tenant_id = $1`, msTenant))
	return v, wrap("tenant by Microsoft tenant", err)
}

// TenantDetails are what the onboarding form sets on the tenant row.
type TenantDetails struct {
	Name               string
	MSDomain           string
	TelephonyAccountID string
	AdminEmail         string
}

// UpdateTenantDetails saves the form's tenant fields.
func (s *Store) UpdateTenantDetails(ctx context.Context, id uuid.UUID, d TenantDetails) error {
	_, err := s.db.Exec(ctx, `UPDATE tenants SET name = $2, ms_domain = $3, telephony_account_id = $4, admin_email = $5, updated_at = now()
		WHERE id = $1`, id, d.Name, d.MSDomain, d.TelephonyAccountID, d.AdminEmail)
	return wrap("update tenant details", err)
}

// SetAllowPasswordSignIn turns the "sign in with password once" option on or off.
func (s *Store) SetAllowPasswordSignIn(ctx context.Context, id uuid.UUID, allow bool) error {
	_, err := s.db.Exec(ctx, `UPDATE tenants SET allow_password_signin = $2, updated_at = now() WHERE id = $1`, id, allow)
	return wrap("set allow password sign in", err)
}

// GetOnboarding reads a tenant's onboarding state.
func (s *Store) GetOnboarding(ctx context.Context, tenantID uuid.UUID) (Onboarding, error) {
	var o Onboarding
	err := s.db.QueryRow(ctx, `SELECT tenant_id, invite_expires_at, form, consent_status, coalesce(consent_error, ''), consented_at, completed_at
		FROM onboarding WHERE tenant_id = $1`, tenantID).
		Scan(&o.TenantID, &o.InviteExpiresAt, &o.Form, &o.ConsentStatus, &o.ConsentError, &o.ConsentedAt, &o.CompletedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, ErrTenantNotFound
	}
	return o, wrap("get onboarding", err)
}

// SaveOnboardingForm stores the form as entered (JSON).
func (s *Store) SaveOnboardingForm(ctx context.Context, tenantID uuid.UUID, form any) error {
	b, err := json.Marshal(form)
	if err != nil {
		return wrap("save onboarding form", err)
	}
	_, err = s.db.Exec(ctx, `UPDATE onboarding SET form = $2, updated_at = now() WHERE tenant_id = $1`, tenantID, b)
	return wrap("save onboarding form", err)
}

// ConsentGranted records confirmed consent for Microsoft tenant msTenant.
func (s *Store) ConsentGranted(ctx context.Context, tenantID, msTenant uuid.UUID) error {
	_, err := s.db.Exec(ctx, `UPDATE tenants SET ms_tenant_id = $2, updated_at = now() WHERE id = $1`, tenantID, msTenant)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return ErrMicrosoftTenantTaken
	}
	if err != nil {
		return wrap("consent granted", err)
	}
	_, err = s.db.Exec(ctx, `UPDATE onboarding SET consent_status = 'granted', consent_error = NULL, consented_at = now(), updated_at = now()
		WHERE tenant_id = $1`, tenantID)
	return wrap("consent granted", err)
}

// ConsentFailed records why consent did not succeed; a consent already
// granted stays granted (a stray failed retry must not undo it).
func (s *Store) ConsentFailed(ctx context.Context, tenantID uuid.UUID, reason string) error {
	_, err := s.db.Exec(ctx, `UPDATE onboarding SET consent_status = CASE WHEN consent_status = 'granted' THEN 'granted' ELSE 'failed' END,
		consent_error = $2, updated_at = now() WHERE tenant_id = $1`, tenantID, reason)
	return wrap("consent failed", err)
}

// CompleteOnboarding activates the tenant.
func (s *Store) CompleteOnboarding(ctx context.Context, tenantID uuid.UUID) error {
	if _, err := s.db.Exec(ctx, `UPDATE onboarding SET completed_at = coalesce(completed_at, now()), updated_at = now() WHERE tenant_id = $1`, tenantID); err != nil {
		return wrap("complete onboarding", err)
	}
	_, err := s.db.Exec(ctx, `UPDATE tenants SET status = 'active', updated_at = now() WHERE id = $1`, tenantID)
	return wrap("complete onboarding", err)
}

// Invite is an invitation link's row.
type Invite struct {
	ID        uuid.UUID
	TenantID  uuid.UUID
	CreatedBy string
	ExpiresAt time.Time
	RevokedAt *time.Time
}

// CreateInvite records an invitation for a tenant.
func (s *Store) CreateInvite(ctx context.Context, tenantID uuid.UUID, createdBy string, expires time.Time) (Invite, error) {
	inv := Invite{TenantID: tenantID, CreatedBy: createdBy, ExpiresAt: expires}
	err := s.db.QueryRow(ctx, `INSERT INTO invites (tenant_id, created_by, expires_at) VALUES ($1, $2, $3) RETURNING id`,
		tenantID, createdBy, expires).Scan(&inv.ID)
	return inv, wrap("create invite", err)
}

// UseInvite reads an invitation and stamps its use.
func (s *Store) UseInvite(ctx context.Context, id uuid.UUID) (Invite, error) {
	inv := Invite{ID: id}
	err := s.db.QueryRow(ctx, `UPDATE invites SET last_used_at = now() WHERE id = $1 RETURNING tenant_id, created_by, expires_at, revoked_at`, id).
		Scan(&inv.TenantID, &inv.CreatedBy, &inv.ExpiresAt, &inv.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return inv, ErrTenantNotFound
	}
	return inv, wrap("use invite", err)
}

// RevokeInvite stops an invitation link working.
func (s *Store) RevokeInvite(ctx context.Context, id uuid.UUID) error {
	_, err := s.db.Exec(ctx, `UPDATE invites SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1`, id)
	return wrap("revoke invite", err)
}
