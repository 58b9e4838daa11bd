package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"presencebridge/internal/presence"
)

// MappingRules reads a tenant's mapping rules as stored (nil: defaults).
func (s *Store) MappingRules(ctx context.Context, tenantID uuid.UUID) (json.RawMessage, error) {
	var b json.RawMessage
	err := s.db.QueryRow(ctx, `SELECT rules FROM mapping_rules WHERE tenant_id = $1`, tenantID).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return b, wrap("mapping rules", err)
}

// PutMappingRules stores a tenant's mapping rules (JSON, already validated).
func (s *Store) PutMappingRules(ctx context.Context, tenantID uuid.UUID, rules json.RawMessage) error {
	_, err := s.db.Exec(ctx, `INSERT INTO mapping_rules (tenant_id, rules) VALUES ($1, $2)
		ON CONFLICT (tenant_id) DO UPDATE SET rules = excluded.rules, updated_at = now()`, tenantID, rules)
	return wrap("put mapping rules", err)
}

// TenantRules is a tenant's mapping rules: what it saved, over the
// defaults (a tenant that never saved any gets the defaults).
func (s *Store) TenantRules(ctx context.Context, tenantID uuid.UUID) (presence.Rules, error) {
	raw, err := s.MappingRules(ctx, tenantID)
	if err != nil {
		return presence.DefaultRules(), wrap("tenant rules", err)
	}
	v, err := DecodeRules(tenantID, raw)
	return v, wrap("tenant rules", err)
}

// NotifiedTenant is what the notification processor needs of a tenant.
type NotifiedTenant struct {
	Tenant
	Rules json.RawMessage // as stored; nil: the defaults
	// OwnAppID is the client id of the tenant's own app registration
	// (tenant_apps), with which its subscriptions are made: the audience
	// of their validation tokens. Nil: the tenant uses ours.
	OwnAppID *uuid.UUID
}

// TenantForNotifications reads a tenant, its mapping rules as stored and
// its own app registration in one round trip, for the processor, which
// looks each tenant up once per batch anyway: the stored rules come with
// it, so a cache of parsed rules is checked against the database's at
// every batch and a rule change applies to the very next notification;
// likewise an own app recorded by onboarding applies to the next batch.
func (s *Store) TenantForNotifications(ctx context.Context, id uuid.UUID) (NotifiedTenant, error) {
	var nt NotifiedTenant
	// Scalar subqueries, not joins, so that the tenant columns stay
	// unambiguous whatever the other tables share with tenants.
	row := s.db.QueryRow(ctx, `SELECT `+tenantColumns+`, (SELECT rules FROM mapping_rules WHERE tenant_id = tenants.id),
		(SELECT client_id FROM tenant_apps WHERE tenant_id = tenants.id)
		FROM tenants WHERE id = $1`, id)
	t, err := scanTenant(withExtra{row, []any{&nt.Rules, &nt.OwnAppID}})
	if err != nil {
		return nt, fmt.Errorf("tenant %s for notifications: %w", id, err)
	}
	nt.Tenant = t
	return nt, nil
}

// TenantsForNotifications is TenantForNotifications for many tenants in
// one round trip, by id; tenants not found are absent.
func (s *Store) TenantsForNotifications(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]NotifiedTenant, error) {
	out := make(map[uuid.UUID]NotifiedTenant, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.Query(ctx, `SELECT `+tenantColumns+`, (SELECT rules FROM mapping_rules WHERE tenant_id = tenants.id),
		(SELECT client_id FROM tenant_apps WHERE tenant_id = tenants.id)
		FROM tenants WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, wrap("tenants for notifications", err)
	}
	defer rows.Close()
	for rows.Next() {
		var nt NotifiedTenant
		if err := rows.Scan(append(tenantFields(&nt.Tenant), &nt.Rules, &nt.OwnAppID)...); err != nil {
			return nil, wrap("tenants for notifications", err)
		}
		out[nt.ID] = nt
	}
	return out, wrap("tenants for notifications", rows.Err())
}

// DecodeRules reads stored mapping rules over the defaults (nil: the
// defaults), as TenantRules does.
func DecodeRules(tenantID uuid.UUID, raw json.RawMessage) (presence.Rules, error) {
	r := presence.DefaultRules()
	if raw == nil {
		return r, nil
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("tenant %s mapping rules: %w", tenantID, err)
	}
	return r, nil
}

// withExtra scans a row with more columns than a shared scan function
// knows of: the extra destinations take the last columns.
type withExtra struct {
	pgx.Row
	extra []any
}

func (r withExtra) Scan(dest ...any) error { return r.Row.Scan(append(dest, r.extra...)...) }

// LockMappingRules reads a tenant's mapping rules and holds them until the
// transaction ends, so that a conditional change (If-Match) compares and
// writes without another change between. The tenant's row is what is
// locked: a tenant that never saved rules has no rules row to lock.
func (tx Tx) LockMappingRules(ctx context.Context, tenantID uuid.UUID) (presence.Rules, error) {
	var raw json.RawMessage
	err := tx.db.QueryRow(ctx, `SELECT (SELECT rules FROM mapping_rules WHERE tenant_id = t.id)
		FROM tenants t WHERE t.id = $1 FOR NO KEY UPDATE`, tenantID).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		err = ErrTenantNotFound
	}
	if err != nil {
		return presence.DefaultRules(), wrap("lock mapping rules", err)
	}
	v, err := DecodeRules(tenantID, raw)
	return v, wrap("lock mapping rules", err)
}
