package store

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// AuditTrailQuery picks a page of the audit log across tenants (the
// console's), newest first.
type AuditTrailQuery struct {
	// TenantID keeps one tenant's entries; TenantName those of tenants
	// whose name contains it, any case. Neither: every entry, those of no
	// tenant too (staff sign-ins, purged tenants).
	TenantID   *uuid.UUID
	TenantName string
	// Actor keeps one actor's entries when it holds a colon
	// ("staff:ana@vendor.example"), else a kind's ("staff", "system").
	Actor string
	// Action keeps entries whose action starts with it ("tenant.").
	Action string
	// After is the last entry of the page before (its At and ID).
	After *AuditEntry
	Limit int
}

// AuditTrailEntry is an entry with its tenant's name ("" for none, or a
// tenant since purged).
type AuditTrailEntry struct {
	AuditEntry
	TenantName string
}

// AuditTrail reads a page of the audit log across tenants, newest first;
// more reports whether older entries match too. As AuditPage, the
// statement holds only the filters in use and is planned for their
// values, so that each reads the index that serves it (migration 000042:
// (at, id) for the whole log, (actor, at, id) for an actor or a kind of
// actor, (action, at, id) for an action; the tenant's own for a tenant).
func (s *Store) AuditTrail(ctx context.Context, q AuditTrailQuery) (page []AuditTrailEntry, more bool, err error) {
	args := []any{pgx.QueryExecModeCacheDescribe}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args)-1)
	}
	var b strings.Builder
	b.WriteString(`SELECT a.id, a.at, a.tenant_id, a.actor, a.action, a.detail, coalesce(t.name, '')
		FROM audit_log a LEFT JOIN tenants t ON t.id = a.tenant_id WHERE true`)
	switch {
	case q.TenantID != nil:
		b.WriteString(` AND a.tenant_id = ` + arg(*q.TenantID))
	case strings.TrimSpace(q.TenantName) != "":
		b.WriteString(` AND a.tenant_id IN (SELECT id FROM tenants WHERE name ILIKE '%' || ` + arg(likeEscape(q.TenantName)) + ` || '%')`)
	}
	if actor := strings.TrimSpace(q.Actor); strings.Contains(actor, ":") {
		b.WriteString(` AND a.actor COLLATE "C" = ` + arg(actor))
	} else if actor != "" {
		// The kind alone ("system"), or a range of the index ("staff:…").
		p := arg(actor)
		b.WriteString(` AND (a.actor COLLATE "C" = ` + p + ` OR starts_with(a.actor COLLATE "C", ` + p + ` || ':'))`)
	}
	if action := strings.TrimSpace(q.Action); action != "" {
		b.WriteString(` AND starts_with(a.action COLLATE "C", ` + arg(action) + `)`)
	}
	if q.After != nil {
		b.WriteString(` AND (a.at, a.id) < (` + arg(q.After.At) + `, ` + arg(q.After.ID) + `)`)
	}
	b.WriteString(` ORDER BY a.at DESC, a.id DESC LIMIT ` + arg(q.Limit+1))
	rows, err := s.db.Query(ctx, b.String(), args...)
	if err != nil {
		return nil, false, wrap("audit trail", err)
	}
	page, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditTrailEntry, error) {
		var e AuditTrailEntry
		var detail []byte
		if err := r.Scan(&e.ID, &e.At, &e.TenantID, &e.Actor, &e.Action, &detail, &e.TenantName); err != nil {
			return e, err
		}
		return e, json.Unmarshal(detail, &e.Detail)
	})
	if err != nil {
		return nil, false, wrap("audit trail", err)
	}
	if len(page) > q.Limit {
		return page[:q.Limit], true, nil
	}
	return page, false, nil
}
