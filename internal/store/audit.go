package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
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
	out, err := collectAudit(rows)
	return out, wrap("audit log", err)
}

// collectAudit reads rows of id, at, tenant_id, actor, action, detail.
func collectAudit(rows pgx.Rows) ([]AuditEntry, error) {
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var detail []byte
		if err := rows.Scan(&e.ID, &e.At, &e.TenantID, &e.Actor, &e.Action, &detail); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(detail, &e.Detail); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
