package store

import (
	"context"
	"strings"

	"github.com/google/uuid"
)

// TenantListItem is one tenant of the console's list.
type TenantListItem struct {
	ID         uuid.UUID
	Name       string
	MSDomain   string
	AdminEmail string
	Status     string // onboarding, active, suspended, deleted
	Health     string // healthy, degraded
}

// TenantListQuery picks a page of the console's tenant list, by name.
type TenantListQuery struct {
	// Search keeps tenants whose name, Microsoft domain or admin e-mail
	// contains it, any case; empty keeps all.
	Search string
	// AfterName and AfterID are the last tenant of the page before
	// (keyset paging: a page costs the same however deep).
	AfterName string
	AfterID   uuid.UUID
	Limit     int
}

// TenantList reads a page of tenants ordered by name (lower(name), id:
// tenants_name_idx); more reports whether tenants follow it.
func (s *Store) TenantList(ctx context.Context, q TenantListQuery) (page []TenantListItem, more bool, err error) {
	var afterName *string
	if q.AfterID != uuid.Nil {
		n := strings.ToLower(q.AfterName)
		afterName = &n
	}
	rows, err := s.db.Query(ctx, `SELECT id, name, coalesce(ms_domain, ''), coalesce(admin_email, ''), status, health FROM tenants
		WHERE ($1 = '' OR name ILIKE '%' || $1 || '%' OR ms_domain ILIKE '%' || $1 || '%' OR admin_email ILIKE '%' || $1 || '%')
		  AND ($2::text IS NULL OR (lower(name), id) > ($2, $3))
		ORDER BY lower(name), id LIMIT $4`, likeEscape(q.Search), afterName, q.AfterID, q.Limit+1)
	if err != nil {
		return nil, false, wrap("tenant list", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t TenantListItem
		if err := rows.Scan(&t.ID, &t.Name, &t.MSDomain, &t.AdminEmail, &t.Status, &t.Health); err != nil {
			return nil, false, wrap("tenant list", err)
		}
		page = append(page, t)
	}
	if err := rows.Err(); err != nil {
		return nil, false, wrap("tenant list", err)
	}
	if len(page) > q.Limit {
		return page[:q.Limit], true, nil
	}
	return page, false, nil
}

// likeEscape makes s match itself in a LIKE pattern (backslash is
// PostgreSQL's default escape).
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.TrimSpace(s))
}
