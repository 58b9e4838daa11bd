package store

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

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
// reports whether older entries match too. Pages follow one another by
// keyset (the last entry's at and id), never by offset, so the thousandth
// page costs what the first does.
//
// The statement holds only the filters in use, and is planned for the
// values given (not once for all), so that the planner can pick the index
// that serves them (migration 000034): (tenant_id, at, id) for the whole
// log and dates, (tenant_id, actor's kind, at, id) for a kind of actor,
// (tenant_id, action, at, id) for an action matching few entries. With
// every filter in one statement of "$n = ” OR …", a plan cached for the
// empty filter read a tenant's whole log to find its ten onboarding
// entries.
func (s *Store) AuditPage(ctx context.Context, tenantID uuid.UUID, q AuditQuery) (page []AuditEntry, more bool, err error) {
	args := []any{pgx.QueryExecModeCacheDescribe, tenantID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args)-1)
	}
	var b strings.Builder
	b.WriteString(`SELECT id, at, tenant_id, actor, action, detail FROM audit_log WHERE tenant_id = $1`)
	if q.ActorKind != "" {
		b.WriteString(` AND split_part(actor, ':', 1) = ` + arg(q.ActorKind))
	}
	if q.Action != "" {
		// In the C collation, as the index holds it: a prefix is then a
		// range of the index.
		b.WriteString(` AND starts_with(action COLLATE "C", ` + arg(q.Action) + `)`)
	}
	if q.Since != nil {
		b.WriteString(` AND at >= ` + arg(*q.Since))
	}
	if q.Until != nil {
		b.WriteString(` AND at < ` + arg(*q.Until))
	}
	if q.After != nil {
		b.WriteString(` AND (at, id) < (` + arg(q.After.At) + `, ` + arg(q.After.ID) + `)`)
	}
	b.WriteString(` ORDER BY at DESC, id DESC LIMIT ` + arg(q.Limit+1))
	rows, err := s.db.Query(ctx, b.String(), args...)
	if err != nil {
		return nil, false, wrap("audit page", err)
	}
	page, err = collectAudit(rows)
	if err != nil {
		return nil, false, wrap("audit page", err)
	}
	if len(page) > q.Limit {
		return page[:q.Limit], true, nil
	}
	return page, false, nil
}
