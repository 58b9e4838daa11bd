package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// A tenant's health (tenants.health) and what its status reports: the
// lifecycle (onboarding, active, suspended, deleted) stays in
// tenants.status so the engine keeps passing over a degraded tenant and
// sees it recover; health says whether its access to Microsoft works.

// Tenant health values, and the status reported for an active tenant that
// is not healthy.
const (
	HealthHealthy  = "healthy"
	HealthDegraded = "degraded"
	TenantDegraded = "degraded"
)

// Alert kinds of a tenant's health: one alert per access condition (the
// subject names it), and one for roster entries that match no usable
// account.
const (
	AlertTenantAccess    = "tenant_access"
	AlertUsersUnresolved = "users_unresolved"
)

// UserCounts splits a tenant's roster: Monitored users are resolved and
// assigned to an authorized monitor; Unmonitored are resolved but fit no
// authorized monitor; Unresolved entries match no usable account (not
// found, disabled, or a duplicate of another entry); Pending entries are
// not looked up yet.
type UserCounts struct {
	Total, Monitored, Unmonitored, Unresolved, Pending int
}

// TenantStatus is what a tenant's status pages and API report.
type TenantStatus struct {
	TenantID uuid.UUID
	// Status is the lifecycle, except "degraded" for an active tenant
	// whose access is broken.
	Status, Lifecycle, Health string
	// Condition and Reason say why the tenant is degraded ("" when healthy).
	Condition, Reason string
	HealthChangedAt   *time.Time
	Users             UserCounts
}

// TenantStatusOf reads a tenant's status, health and user counts.
func (s *Store) TenantStatusOf(ctx context.Context, tenantID uuid.UUID) (TenantStatus, error) {
	_, ts, err := s.TenantWithHealth(ctx, tenantID)
	if err != nil {
		return ts, wrap("tenant status of", err)
	}
	if ts.Users, err = s.UserCountsOf(ctx, tenantID); err != nil {
		return ts, wrap("tenant status of", err)
	}
	return ts, nil
}

// UserCountsOf counts a tenant's roster as monitored, unmonitored,
// unresolved and pending (RosterCounts).
func (s *Store) UserCountsOf(ctx context.Context, tenantID uuid.UUID) (UserCounts, error) {
	c, err := s.RosterCounts(ctx, tenantID)
	if err != nil {
		return UserCounts{}, fmt.Errorf("user counts of %s: %w", tenantID, err)
	}
	return c.Users, nil
}

// SetTenantDegraded marks the tenant degraded for condition, with the
// identity platform's reason. changed is true when it was healthy or
// degraded for another condition.
func (s *Store) SetTenantDegraded(ctx context.Context, tenantID uuid.UUID, condition, reason string) (changed bool, err error) {
	var was, wasCondition string
	err = s.db.QueryRow(ctx, `UPDATE tenants t SET health = 'degraded', health_condition = $2, health_reason = $3,
			health_changed_at = CASE WHEN o.health = 'degraded' AND o.health_condition = $2 THEN o.health_changed_at ELSE now() END,
			updated_at = now()
		FROM (SELECT health, coalesce(health_condition, '') AS health_condition, health_changed_at FROM tenants WHERE id = $1 FOR UPDATE) o
		WHERE t.id = $1 RETURNING o.health, o.health_condition`, tenantID, condition, reason).Scan(&was, &wasCondition)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, ErrTenantNotFound
	}
	if err != nil {
		return false, fmt.Errorf("mark tenant %s degraded: %w", tenantID, err)
	}
	return was != HealthDegraded || wasCondition != condition, nil
}

// SetTenantHealthy clears a degraded tenant's health; changed is true when
// it was degraded.
func (s *Store) SetTenantHealthy(ctx context.Context, tenantID uuid.UUID) (changed bool, err error) {
	tag, err := s.db.Exec(ctx, `UPDATE tenants SET health = 'healthy', health_condition = NULL, health_reason = NULL,
			health_changed_at = now(), updated_at = now()
		WHERE id = $1 AND health <> 'healthy'`, tenantID)
	if err != nil {
		return false, fmt.Errorf("mark tenant %s healthy: %w", tenantID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ResolveAlertsExcept closes the tenant's open alerts of kind, except the
// one about subject keep ("" closes them all): when a tenant's access
// breaks for another reason, or recovers, the old condition's alert goes.
func (s *Store) ResolveAlertsExcept(ctx context.Context, tenantID uuid.UUID, kind, keep string) error {
	_, err := s.db.Exec(ctx, `UPDATE alerts SET resolved_at = now(), updated_at = now()
		WHERE tenant_id = $1 AND kind = $2 AND resolved_at IS NULL AND ($3 = '' OR subject <> $3)`, tenantID, kind, keep)
	if err != nil {
		return fmt.Errorf("resolve %s alerts of %s: %w", kind, tenantID, err)
	}
	return nil
}

// UnresolvedUser is a roster entry that matches no usable account.
type UnresolvedUser struct {
	UPN, Status string
}

// UnresolvedUsers counts a tenant's roster entries that are not found,
// disabled or duplicates, and lists the first limit (at least one) of them
// in entry order.
func (s *Store) UnresolvedUsers(ctx context.Context, tenantID uuid.UUID, limit int) (int, []UnresolvedUser, error) {
	rows, err := s.db.Query(ctx, `SELECT upn, resolution_status, count(*) OVER () FROM directory_users
		WHERE tenant_id = $1 AND resolution_status IN ('not_found', 'disabled', 'duplicate') ORDER BY seq LIMIT $2`, tenantID, max(limit, 1))
	if err != nil {
		return 0, nil, fmt.Errorf("unresolved users of %s: %w", tenantID, err)
	}
	defer rows.Close()
	var n int
	var out []UnresolvedUser
	for rows.Next() {
		var u UnresolvedUser
		if err := rows.Scan(&u.UPN, &u.Status, &n); err != nil {
			return 0, nil, fmt.Errorf("unresolved users of %s: %w", tenantID, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("unresolved users of %s: %w", tenantID, err)
	}
	return n, out, nil
}
