package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"presencebridge/internal/presence"
)

// TenantWithRules reads a tenant and its mapping rules as stored (nil:
// the defaults) in one round trip, for the processor, which looks each
// tenant up once per batch anyway: the stored rules come with it, so a
// cache of parsed rules is checked against the database's at every batch
// and a rule change applies to the very next notification.
func (s *Store) TenantWithRules(ctx context.Context, q DBTX, id uuid.UUID) (Tenant, json.RawMessage, error) {
	var raw json.RawMessage
	// The rules come as a scalar subquery, not a join, so that the tenant
	// columns stay unambiguous whatever tenants and mapping_rules share.
	row := q.QueryRow(ctx, `SELECT `+tenantColumns+`, (SELECT rules FROM mapping_rules WHERE tenant_id = tenants.id)
		FROM tenants WHERE id = $1`, id)
	t, err := scanTenant(withExtra{row, []any{&raw}})
	if err != nil {
		return t, nil, fmt.Errorf("tenant %s with its mapping rules: %w", id, err)
	}
	return t, raw, nil
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
