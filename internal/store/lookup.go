package store

import (
	"context"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// UserMatch is a roster row of some tenant that a cross-tenant lookup
// found, with its tenant.
type UserMatch struct {
	TenantID     uuid.UUID
	TenantName   string
	TenantStatus string
	TenantHealth string // healthy, degraded
	DirectoryUser
}

// FindUsersAnywhere finds up to limit roster rows of every tenant whose UPN
// as entered, UPN as Graph answered, or e-mail is q (case-insensitively),
// in the order of their tenants' names. Each of the three is an index
// lookup (migration 000039); the rows are then read as every roster read
// reads them.
func (s *Store) FindUsersAnywhere(ctx context.Context, q string, limit int) ([]UserMatch, error) {
	q = strings.ToLower(strings.TrimSpace(q))
	rows, err := s.db.Query(ctx, `SELECT d.id, t.id, t.name, t.status, t.health FROM directory_users d JOIN tenants t ON t.id = d.tenant_id
		WHERE d.id IN (SELECT id FROM directory_users WHERE lower(upn) = $1
			UNION SELECT id FROM directory_users WHERE lower(graph_upn) = $1
			UNION SELECT id FROM directory_users WHERE lower(email) = $1)
		ORDER BY lower(t.name), t.id, lower(d.upn) LIMIT $2`, q, limit)
	if err != nil {
		return nil, wrap("find users anywhere", err)
	}
	var out []UserMatch
	var ids []uuid.UUID
	var m UserMatch
	_, err = pgx.ForEachRow(rows, []any{&m.DirectoryUser.ID, &m.TenantID, &m.TenantName, &m.TenantStatus, &m.TenantHealth}, func() error {
		out, ids = append(out, m), append(ids, m.DirectoryUser.ID)
		return nil
	})
	if err != nil || len(ids) == 0 {
		return out, wrap("find users anywhere", err)
	}
	rows, err = s.db.Query(ctx, directoryUsersFrom+` WHERE d.id = ANY($1)`, ids)
	if err != nil {
		return nil, wrap("find users anywhere", err)
	}
	us, err := pgx.CollectRows(rows, scanDirectoryUser)
	if err != nil {
		return nil, wrap("find users anywhere", err)
	}
	byID := make(map[uuid.UUID]DirectoryUser, len(us))
	for _, u := range us {
		byID[u.ID] = u
	}
	for i := range out {
		out[i].DirectoryUser = byID[out[i].DirectoryUser.ID]
	}
	return out, nil
}
