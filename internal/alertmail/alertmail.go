// Package alertmail mails a tenant's contacts about its alerts: one mail
// when an alert opens, a reminder while it stays open (every 24 hours), and
// a "resolved" mail when it closes, if the opening one went. Alerts are
// raised where their conditions are found (the engine, the token vault,
// the deliverer); this package only tells people, and raises the one
// condition that comes with time alone: an own app's client secret
// nearing its expiry.
package alertmail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"presencebridge/internal/mail"
	"presencebridge/internal/store"
)

// RemindAfter is how long an open alert waits after its last mail before
// a reminder.
const RemindAfter = 24 * time.Hour

// maxPerPass bounds the mails one pass sends, so a pass ends well within
// its job's timeout; the next pass carries on.
const maxPerPass = 50

// Kinds are the alerts mailed: the conditions an admin must act on for
// presence to keep flowing. Others (unresolved roster entries, the
// optional write-back permission) show in the portal and the API only.
var Kinds = []string{store.AlertMonitorNeedsReauth, store.AlertTenantAccess, store.AlertSecretExpiring,
	store.AlertEndpointDisabled, store.AlertUsersUnmonitored}

// reminded are the kinds reminded of every RemindAfter. A client secret's
// warnings come at 30, 7 and 1 days instead: a daily mail for a month
// would teach people to ignore them.
var reminded = []string{store.AlertMonitorNeedsReauth, store.AlertTenantAccess, store.AlertEndpointDisabled, store.AlertUsersUnmonitored}

// Options are the Sender's collaborators.
type Options struct {
	Mailer mail.Mailer
	// BaseURL is the product's public URL, which the portal links in the
	// mails start with.
	BaseURL string
	// Now is the clock (time.Now by default); tests move it.
	Now    func() time.Time
	Logger *slog.Logger
}

// Sender mails alerts. Any number of Senders, in any number of processes,
// may run at once: each mail is claimed under its alert's row lock and
// stamped in the transaction that logs it, so one of them sends it.
type Sender struct {
	st   *store.Store
	opts Options
}

// New returns a Sender over st.
func New(st *store.Store, opts Options) *Sender {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sender{st: st, opts: opts}
}

// Pass raises or resolves the secret expiry alerts, then sends every mail
// that is due (up to maxPerPass) and says how many went. A mail that fails
// is left for the next pass; the others still go.
//
// Delivery is at least once: a mail is stamped after the SMTP server
// accepted it, in the transaction that claimed it, so a crash (or a lost
// database) between the two sends it again on the next pass. Once at most
// would lose alerts; a rare duplicate costs little.
func (s *Sender) Pass(ctx context.Context) (int, error) {
	var errs []error
	if err := s.checkSecrets(ctx); err != nil {
		errs = append(errs, err)
	}
	var skip []int64
	sent := 0
	for sent < maxPerPass {
		var claimed, mailed bool
		err := s.st.InTx(ctx, func(tx store.Tx) error {
			m, found, err := tx.ClaimAlertMail(ctx, store.MailDue{Now: s.opts.Now(), Kinds: Kinds, Remind: reminded,
				RemindAfter: RemindAfter, Skip: skip})
			if err != nil || !found {
				return err
			}
			claimed = true
			skip = append(skip, m.ID)
			mailed, err = s.send(ctx, tx, m)
			return err
		})
		if !claimed {
			if err != nil {
				errs = append(errs, err)
			}
			break
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if mailed {
			sent++
		}
	}
	return sent, errors.Join(errs...)
}

// send mails the claimed alert m to its tenant's contacts and stamps it.
// With no contact it stays unstamped, mailed once someone can read it.
func (s *Sender) send(ctx context.Context, tx store.Tx, m store.AlertMail) (bool, error) {
	to, err := tx.TenantContacts(ctx, m.TenantID)
	if err != nil {
		return false, err
	}
	if len(to) == 0 {
		s.opts.Logger.Debug("alert mail: the tenant has no contact to mail", "tenant", m.TenantID, "alert", m.ID)
		return false, nil
	}
	msg := compose(m, s.opts.BaseURL, s.opts.Now())
	msg.To = to
	if err := s.opts.Mailer.Send(ctx, msg); err != nil {
		s.opts.Logger.Warn("alert mail: sending failed; the next pass tries again", "tenant", m.TenantID, "alert", m.ID,
			"kind", m.Kind, "reason", m.Reason, "err", err)
		return false, fmt.Errorf("alert %d: %w", m.ID, err)
	}
	tenant, alert := m.TenantID, m.ID
	err = tx.AlertMailed(ctx, m, store.SentMail{TenantID: &tenant, AlertID: &alert, Reason: m.Reason, Recipients: to,
		Subject: msg.Subject, Body: msg.Text, SentAt: s.opts.Now()})
	if err != nil {
		return false, err
	}
	s.opts.Logger.Info("alert mail sent", "tenant", m.TenantID, "alert", m.ID, "kind", m.Kind, "reason", m.Reason, "recipients", len(to))
	return true, nil
}
