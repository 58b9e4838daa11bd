package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Why an alert's mail goes.
const (
	MailOpened   = "opened"
	MailReminder = "reminder"
	MailResolved = "resolved"
)

// AlertMail is an alert owed a mail, claimed under its row's lock (see
// ClaimAlertMail), with what the mail needs of its tenant.
type AlertMail struct {
	Alert
	TenantName string
	Reason     string // MailOpened, MailReminder or MailResolved
	NotifiedAt *time.Time
	MailsSent  int
}

// MailDue says which alerts are owed a mail at Now: open ones of Kinds
// never mailed; open ones of Remind mailed last at or before
// Now-RemindAfter; resolved ones of Kinds that had an opening mail and no
// "resolved" one yet (unless superseded). Skip leaves out alerts this
// pass has already tried.
type MailDue struct {
	Now         time.Time
	Kinds       []string
	Remind      []string
	RemindAfter time.Duration
	Skip        []int64
}

// ClaimAlertMail locks the first alert owed a mail that no other
// transaction holds (FOR UPDATE SKIP LOCKED): of any number of workers one
// mails it, and the others pass on to the next. found is false when none
// is due. A claim re-checks the alert as committed by whoever held it
// before, so a mail stamped meanwhile is not claimed again.
func (tx Tx) ClaimAlertMail(ctx context.Context, due MailDue) (m AlertMail, found bool, err error) {
	skip := due.Skip
	if skip == nil {
		skip = []int64{}
	}
	err = tx.db.QueryRow(ctx, `SELECT a.id, a.tenant_id, a.kind, a.subject, a.message, a.detail, a.raised_at, a.resolved_at,
			a.notified_at, a.mails_sent, t.name,
			CASE WHEN a.resolved_at IS NOT NULL THEN 'resolved' WHEN a.notified_at IS NULL THEN 'opened' ELSE 'reminder' END
		FROM alerts a JOIN tenants t ON t.id = a.tenant_id
		WHERE t.status IN ('onboarding', 'active') AND a.kind = ANY($2) AND a.id <> ALL($5)
			AND CASE WHEN a.resolved_at IS NULL
				THEN a.notified_at IS NULL OR (a.kind = ANY($3) AND a.notified_at <= $1::timestamptz - $4::interval)
				ELSE a.notified_at IS NOT NULL AND a.resolved_notified_at IS NULL AND NOT a.superseded END
		ORDER BY a.id LIMIT 1
		FOR UPDATE OF a SKIP LOCKED`, due.Now, due.Kinds, due.Remind, due.RemindAfter.String(), skip).
		Scan(&m.ID, &m.TenantID, &m.Kind, &m.Subject, &m.Message, &m.Detail, &m.RaisedAt, &m.ResolvedAt,
			&m.NotifiedAt, &m.MailsSent, &m.TenantName, &m.Reason)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, false, nil
	}
	if err != nil {
		return m, false, wrap("claim alert mail", err)
	}
	return m, true, nil
}

// SentMail is a mail as sent, for the mail log.
type SentMail struct {
	TenantID   *uuid.UUID
	AlertID    *int64
	Reason     string
	Recipients []string
	Subject    string
	Body       string
	SentAt     time.Time
}

// AlertMailed stamps the claimed alert m as mailed at sent.SentAt and logs
// the mail, in the claim's transaction.
func (tx Tx) AlertMailed(ctx context.Context, m AlertMail, sent SentMail) error {
	q := `UPDATE alerts SET notified_at = $2, mails_sent = mails_sent + 1 WHERE id = $1`
	if m.Reason == MailResolved {
		q = `UPDATE alerts SET resolved_notified_at = $2 WHERE id = $1`
	}
	if _, err := tx.db.Exec(ctx, q, m.ID, sent.SentAt); err != nil {
		return wrap("alert mailed", err)
	}
	return wrap("alert mailed", tx.LogMail(ctx, sent))
}

// LogMail records a mail sent.
func (s *Store) LogMail(ctx context.Context, m SentMail) error {
	_, err := s.db.Exec(ctx, `INSERT INTO mail_log (tenant_id, alert_id, reason, recipients, subject, body, sent_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, m.TenantID, m.AlertID, m.Reason, m.Recipients, m.Subject, m.Body, m.SentAt)
	return wrap("log mail", err)
}

// MailLog lists the mails sent to a tenant's contacts, newest first.
func (s *Store) MailLog(ctx context.Context, tenantID uuid.UUID, limit int) ([]SentMail, error) {
	rows, err := s.db.Query(ctx, `SELECT tenant_id, alert_id, reason, recipients, subject, body, sent_at FROM mail_log
		WHERE tenant_id = $1 ORDER BY sent_at DESC, id DESC LIMIT $2`, tenantID, limit)
	if err != nil {
		return nil, wrap("mail log", err)
	}
	v, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SentMail, error) {
		var m SentMail
		return m, r.Scan(&m.TenantID, &m.AlertID, &m.Reason, &m.Recipients, &m.Subject, &m.Body, &m.SentAt)
	})
	return v, wrap("mail log", err)
}

// TenantContacts are the addresses a tenant's alerts are mailed to: today
// the admin who onboarded it.
func (s *Store) TenantContacts(ctx context.Context, tenantID uuid.UUID) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT admin_email FROM tenants WHERE id = $1 AND coalesce(admin_email, '') <> ''`, tenantID)
	if err != nil {
		return nil, wrap("tenant contacts", err)
	}
	v, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return v, wrap("tenant contacts", err)
}

// CapturedMail is a mail development kept instead of sending it.
type CapturedMail struct {
	ID         int64
	From       string
	To         []string
	Subject    string
	Body       string
	CapturedAt time.Time
}

// CaptureMail keeps a mail in development's outbox.
func (s *Store) CaptureMail(ctx context.Context, m CapturedMail) error {
	_, err := s.db.Exec(ctx, `INSERT INTO captured_mail (sender, recipients, subject, body) VALUES ($1, $2, $3, $4)`,
		m.From, m.To, m.Subject, m.Body)
	return wrap("capture mail", err)
}

// CapturedMails lists development's outbox, newest first.
func (s *Store) CapturedMails(ctx context.Context, limit int) ([]CapturedMail, error) {
	rows, err := s.db.Query(ctx, `SELECT id, sender, recipients, subject, body, captured_at FROM captured_mail ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, wrap("captured mails", err)
	}
	v, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CapturedMail, error) {
		var m CapturedMail
		return m, r.Scan(&m.ID, &m.From, &m.To, &m.Subject, &m.Body, &m.CapturedAt)
	})
	return v, wrap("captured mails", err)
}
