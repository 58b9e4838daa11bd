package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// AuditEntry is one line of the audit log: who did what to which tenant.
type AuditEntry struct {
	ID       int64
	At       time.Time
	TenantID *uuid.UUID
	Actor    string // "admin:<email>", "staff:<email>", "apikey:<key id>", "system", "monitor:<upn>"
	Action   string // "consent.granted", "monitor.authorized", …
	Detail   map[string]any
}

// Audit appends an entry: run it (on a Tx) in the transaction of the change it
// records, so neither exists without the other. Detail must hold no secret.
func (s *Store) Audit(ctx context.Context, tenantID *uuid.UUID, actor, action string, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	_, err = s.db.Exec(ctx, `INSERT INTO audit_log (tenant_id, actor, action, detail) VALUES ($1, $2, $3, $4)`, tenantID, actor, action, b)
	return wrap("audit", err)
}

// AuditLog lists a tenant's entries, newest first.
func (s *Store) AuditLog(ctx context.Context, tenantID uuid.UUID, limit int) ([]AuditEntry, error) {
	rows, err := s.db.Query(ctx, `SELECT id, at, tenant_id, actor, action, detail FROM audit_log WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2`,
		tenantID, limit)
	if err != nil {
		return nil, wrap("audit log", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var detail []byte
		if err := rows.Scan(&e.ID, &e.At, &e.TenantID, &e.Actor, &e.Action, &detail); err != nil {
			return nil, wrap("audit log", err)
		}
		if err := json.Unmarshal(detail, &e.Detail); err != nil {
			return nil, wrap("audit log", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// AuditQuery picks a page of a tenant's audit log, newest first.
type AuditQuery struct {
	// ActorKind keeps entries whose actor is of that kind: "portal" for
	// "portal:<oid>", "system" for "system"; empty keeps all.
	ActorKind string
	// Action keeps entries whose action starts with it ("monitor.").
	Action string
	Since  *time.Time // at or after
	Until  *time.Time // before
	// After is the last entry of the page before (its At and ID).
	After *AuditEntry
	Limit int
}

// AuditPage reads a page of a tenant's audit log, newest first; more
// reports whether older entries match too. It reads along
// audit_log_tenant_idx (tenant_id, at).
func (s *Store) AuditPage(ctx context.Context, tenantID uuid.UUID, q AuditQuery) (page []AuditEntry, more bool, err error) {
	var afterAt *time.Time
	var afterID *int64
	if q.After != nil {
		afterAt, afterID = &q.After.At, &q.After.ID
	}
	rows, err := s.db.Query(ctx, `SELECT id, at, tenant_id, actor, action, detail FROM audit_log
		WHERE tenant_id = $1
		  AND ($2 = '' OR actor = $2 OR actor LIKE $2 || ':%')
		  AND ($3 = '' OR starts_with(action, $3))
		  AND ($4::timestamptz IS NULL OR at >= $4) AND ($5::timestamptz IS NULL OR at < $5)
		  AND ($6::timestamptz IS NULL OR (at, id) < ($6, $7))
		ORDER BY at DESC, id DESC LIMIT $8`,
		tenantID, q.ActorKind, q.Action, q.Since, q.Until, afterAt, afterID, q.Limit+1)
	if err != nil {
		return nil, false, wrap("audit page", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e AuditEntry
		var detail []byte
		if err := rows.Scan(&e.ID, &e.At, &e.TenantID, &e.Actor, &e.Action, &detail); err != nil {
			return nil, false, wrap("audit page", err)
		}
		if err := json.Unmarshal(detail, &e.Detail); err != nil {
			return nil, false, wrap("audit page", err)
		}
		page = append(page, e)
	}
	if err := rows.Err(); err != nil {
		return nil, false, wrap("audit page", err)
	}
	if len(page) > q.Limit {
		return page[:q.Limit], true, nil
	}
	return page, false, nil
}
