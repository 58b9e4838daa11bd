package store

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Roster rows as the API lists and finds them: a page at a time in UPN
// order (lower(upn) is unique per tenant, so the order is stable and the
// cursor is the last UPN seen), and one row by Graph object id or UPN.

// ErrUserNotFound is returned for a user that is not on the tenant's
// roster.
var ErrUserNotFound = errors.New("user not found")

// UserFilter narrows a page of roster rows. Zero values do not filter.
type UserFilter struct {
	Status string // a resolution status (UserPending, UserResolved…)
	// Unresolved keeps the rows that match no usable account (not
	// found, disabled, duplicate), as UserCounts.Unresolved counts them.
	Unresolved bool
	Monitored  *bool
	// UPNPrefix keeps the rows whose UPN (as entered) starts with it,
	// case-insensitively.
	UPNPrefix string
	// After is the cursor: the lower-cased UPN of the last row of the
	// previous page.
	After string
	Limit int
}

// DirectoryUsersPage lists up to f.Limit roster rows after f.After, in UPN
// order. The bounds ride on the (tenant_id, lower(upn)) index: the cursor
// and the prefix both start the scan.
func (s *Store) DirectoryUsersPage(ctx context.Context, tenantID uuid.UUID, f UserFilter) ([]DirectoryUser, error) {
	prefix := strings.ToLower(f.UPNPrefix)
	rows, err := s.db.Query(ctx, directoryUsersFrom+`
		WHERE d.tenant_id = $1 AND lower(d.upn) > $2 AND lower(d.upn) >= $3 AND starts_with(lower(d.upn), $3)
			AND ($4 = '' OR d.resolution_status = $4)
			AND ($5::boolean IS NULL OR (d.resolution_status = 'resolved' AND m.id IS NOT NULL) = $5)
			AND (NOT $7 OR d.resolution_status IN ('not_found', 'disabled', 'duplicate'))
		ORDER BY lower(d.upn) LIMIT $6`, tenantID, f.After, prefix, f.Status, f.Monitored, f.Limit, f.Unresolved)
	if err != nil {
		return nil, wrap("directory users page", err)
	}
	v, err := pgx.CollectRows(rows, scanDirectoryUser)
	return v, wrap("directory users page", err)
}

// FindDirectoryUser reads the roster row with Graph object id ref or, when
// none has it, the one entered as UPN ref (case-insensitively);
// ErrUserNotFound when neither is on the roster.
func (s *Store) FindDirectoryUser(ctx context.Context, tenantID uuid.UUID, ref string) (DirectoryUser, error) {
	q, args := byRef(directoryUsersFrom, "", tenantID, ref)
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return DirectoryUser{}, wrap("find directory user", err)
	}
	u, err := pgx.CollectExactlyOneRow(rows, scanDirectoryUser)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, ErrUserNotFound
	}
	return u, wrap("find directory user", err)
}

// byRef is the query, and its arguments, that selects with from (a select
// of roster rows d, without WHERE) the tenant's row whose object id is ref
// or, when none is, the one entered as UPN ref, meeting cond too when
// given. One round trip; the object id, which is how the platform mostly
// names users, takes one index lookup and the UPN is looked up only
// without it.
func byRef(from, cond string, tenantID uuid.UUID, ref string) (string, []any) {
	return byRefSQL(from, cond), byRefArgs(tenantID, ref)
}

// byRefSQL is byRef's query, for a caller that builds it once: the most
// frequent read, a user's presence, spent a kilobyte and five allocations
// of each call building it again.
func byRefSQL(from, cond string) string {
	if cond != "" {
		cond = " AND " + cond
	}
	return `(` + from + ` WHERE d.tenant_id = $1 AND d.object_id = $2` + cond + `)
		UNION ALL
		(` + from + ` WHERE d.tenant_id = $1 AND lower(d.upn) = lower($3)` + cond + `)
		LIMIT 1`
}

// byRefArgs are byRef's arguments.
func byRefArgs(tenantID uuid.UUID, ref string) []any {
	// The ids go as pgtype.UUID, which pgx writes as they are: a
	// uuid.UUID is a driver.Valuer, formatted as text, parsed back and
	// written, with an error made and dropped on the way — 40% of what a
	// single presence read allocated (BenchmarkSingleUserPresenceAt2000).
	id, err := uuid.Parse(ref)
	oid := pgtype.UUID{Bytes: id, Valid: err == nil}
	return []any{tenantID, oid, ref}
}

// MonitorLoads counts the resolved users assigned to each of a tenant's
// monitors.
func (s *Store) MonitorLoads(ctx context.Context, tenantID uuid.UUID) (map[uuid.UUID]int, error) {
	rows, err := s.db.Query(ctx, `SELECT monitor_id, count(*) FROM directory_users
		WHERE tenant_id = $1 AND monitor_id IS NOT NULL AND resolution_status = 'resolved' GROUP BY monitor_id`, tenantID)
	if err != nil {
		return nil, wrap("monitor loads", err)
	}
	out := map[uuid.UUID]int{}
	var id uuid.UUID
	var n int
	_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error {
		out[id] = n
		return nil
	})
	return out, wrap("monitor loads", err)
}
