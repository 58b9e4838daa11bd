package store

import (
	"context"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// AlertListQuery picks a page of every tenant's alerts (the console's
// list), newest first.
type AlertListQuery struct {
	// Resolved keeps the resolved alerts too; by default only open ones.
	Resolved bool
	Kind     string
	// TenantID keeps one tenant's; TenantName those of tenants whose name
	// contains it, any case.
	TenantID   *uuid.UUID
	TenantName string
	// After is the last alert of the page before (its RaisedAt and ID).
	After *Alert
	Limit int
}

// AlertListItem is an alert with its tenant's name and the mails sent
// about it.
type AlertListItem struct {
	Alert
	TenantName string
	// MailsSent counts every mail of it; Mails are the latest few,
	// newest first.
	MailsSent int
	Mails     []SentMail
}

// mailsShown is how many of an alert's mails the list shows: a reminder
// goes every day an alert stays open, the opening mail first.
const mailsShown = 3

// AlertList reads a page of alerts of every tenant, newest first, with
// the latest mails of each; more reports whether older ones match too. Two
// statements: the page (open alerts along alerts_open_idx, all along
// alerts_raised_idx), then the mails of its alerts (mail_log_alert_idx).
func (s *Store) AlertList(ctx context.Context, q AlertListQuery) (page []AlertListItem, more bool, err error) {
	args := []any{pgx.QueryExecModeCacheDescribe}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args)-1)
	}
	var b strings.Builder
	b.WriteString(`SELECT a.id, a.tenant_id, a.kind, a.subject, a.message, a.detail, a.raised_at, a.resolved_at, t.name
		FROM alerts a JOIN tenants t ON t.id = a.tenant_id WHERE true`)
	if !q.Resolved {
		b.WriteString(` AND a.resolved_at IS NULL`)
	}
	if q.Kind != "" {
		b.WriteString(` AND a.kind = ` + arg(q.Kind))
	}
	switch {
	case q.TenantID != nil:
		b.WriteString(` AND a.tenant_id = ` + arg(*q.TenantID))
	case strings.TrimSpace(q.TenantName) != "":
		b.WriteString(` AND t.name ILIKE '%' || ` + arg(likeEscape(q.TenantName)) + ` || '%'`)
	}
	if q.After != nil {
		b.WriteString(` AND (a.raised_at, a.id) < (` + arg(q.After.RaisedAt) + `, ` + arg(q.After.ID) + `)`)
	}
	b.WriteString(` ORDER BY a.raised_at DESC, a.id DESC LIMIT ` + arg(q.Limit+1))
	rows, err := s.db.Query(ctx, b.String(), args...)
	if err != nil {
		return nil, false, wrap("alert list", err)
	}
	page, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (AlertListItem, error) {
		var a AlertListItem
		return a, r.Scan(&a.ID, &a.TenantID, &a.Kind, &a.Subject, &a.Message, &a.Detail, &a.RaisedAt, &a.ResolvedAt, &a.TenantName)
	})
	if err != nil {
		return nil, false, wrap("alert list", err)
	}
	if len(page) > q.Limit {
		page, more = page[:q.Limit], true
	}
	return page, more, wrap("alert list", s.alertMails(ctx, page))
}

// alertMails fills in the mails of the page's alerts.
func (s *Store) alertMails(ctx context.Context, page []AlertListItem) error {
	if len(page) == 0 {
		return nil
	}
	at := map[int64]int{}
	ids := make([]int64, len(page))
	for i, a := range page {
		ids[i], at[a.ID] = a.ID, i
	}
	rows, err := s.db.Query(ctx, `SELECT m.alert_id, m.n, m.tenant_id, m.reason, m.recipients, m.subject, m.body, m.sent_at
		FROM unnest($1::bigint[]) AS a(id), LATERAL (
			SELECT alert_id, count(*) OVER () AS n, tenant_id, reason, recipients, subject, body, sent_at FROM mail_log
			WHERE alert_id = a.id ORDER BY sent_at DESC LIMIT $2) m`, ids, mailsShown)
	if err != nil {
		return err
	}
	var id int64
	var n int
	var m SentMail
	_, err = pgx.ForEachRow(rows, []any{&id, &n, &m.TenantID, &m.Reason, &m.Recipients, &m.Subject, &m.Body, &m.SentAt}, func() error {
		a := &page[at[id]]
		a.MailsSent = n
		mail := m
		mail.AlertID = &a.ID
		a.Mails = append(a.Mails, mail)
		return nil
	})
	return err
}
