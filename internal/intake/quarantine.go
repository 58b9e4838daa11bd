package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/notification"
	"presencebridge/internal/store"
)

// Why an inbox row was quarantined: kept whole, not applied, until someone
// replays it (ReplayQuarantined) or the clean-up deletes it with the
// history of its time.
const (
	QuarantineFailed             = "failed"               // it failed MaxAttempts times
	QuarantineBadValidationToken = "bad_validation_token" // the POST's validationTokens failed: nothing in it can be trusted
	QuarantineUnreadable         = "unreadable"           // it is no notification collection
)

// MaxAttempts is how many times an inbox row may fail before it is
// quarantined. Between attempts it waits, the rows behind it going on:
// 1 s after the first failure, twice as long after each next, at most
// 5 min (retry) — so the tenth failure comes about 8.5 min after the
// first. A cause that passes within minutes (a lock, a restart, a bug
// fixed by a deploy) gets the row through; one that does not is for
// people, with the row kept and the error. Failures that are no row's
// fault count nothing (blameless).
const MaxAttempts = 10

var retry = store.InboxRetry{MaxAttempts: MaxAttempts, First: time.Second, Max: 5 * time.Minute}

// blameless reports whether a failed attempt is no row's fault, so that
// it counts against none and the batch is tried again whole: the
// identity platform's signing keys unavailable, the process stopping,
// the database refusing for a while (store.Transient). A connection lost
// needs no test: counting the attempt would fail too.
func blameless(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, notification.ErrKeysUnavailable) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded) || store.Transient(err)
}

// isolate tries the rows of a batch that failed with cause once more, one
// by one, each in a savepoint of one transaction: a row that fails alone
// has the attempt counted against it (fail) and the others are applied.
// A batch of one row is not tried twice: cause was its own. A failure
// that is no row's fault ends the transaction, and nothing is counted.
func (p *Processor) isolate(ctx context.Context, batch []store.ClaimedInboxRow, cause error) (Stats, error) {
	var st Stats
	m := newMemo()
	ids := make([]int64, len(batch))
	for i, c := range batch {
		ids[i] = c.ID
	}
	err := p.st.InTx(ctx, func(tx store.Tx) error {
		rows, err := tx.ClaimInboxRows(ctx, ids) // a row another processor took meanwhile is its to judge
		if err != nil {
			return err
		}
		st.Rows = len(rows)
		for _, c := range rows {
			err := cause
			if len(batch) > 1 {
				one, s := m.fresh(), Stats{}
				if err = tx.InTx(ctx, func(tx store.Tx) error { return p.process(ctx, tx, []store.ClaimedInboxRow{c}, one, &s) }); err == nil {
					m.absorb(one)
					st.add(s)
					continue
				}
			}
			if blameless(ctx, err) {
				return err
			}
			if err := p.fail(ctx, tx, c, err, m, &st); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Stats{}, err
	}
	p.report(m, st)
	return st, nil
}

// fresh is a memo for one more try within the batch: it shares m's
// lookups (what they read is committed, whatever becomes of the try) and
// starts with nothing done.
func (m *memo) fresh() *memo {
	return &memo{subs: m.subs, tenants: m.tenants, apps: m.apps, rules: m.rules, touched: map[uuid.UUID]time.Time{}}
}

// absorb adds to m what a try that succeeded did, to be reported.
func (m *memo) absorb(o *memo) {
	m.drops = append(m.drops, o.drops...)
	m.resyncs = append(m.resyncs, o.resyncs...)
	m.quarantines = append(m.quarantines, o.quarantines...)
	m.notified = append(m.notified, o.notified...)
}

// quarantine is an inbox row a batch moves to the quarantine as it
// commits (a bad validation token, unreadable).
type quarantine struct {
	row    int64
	reason string
	err    error
}

// failure is an inbox row that failed alone: counted, and waiting to be
// tried again or quarantined.
type failure struct {
	row         int64
	attempts    int
	quarantined bool
	err         error
}

// quarantine notes that row is to be quarantined as the batch commits
// (quarantineNoted moves it).
func (p *Processor) quarantine(m *memo, st *Stats, row inboxRow, reason string, err error) {
	st.Quarantined++
	m.quarantines = append(m.quarantines, quarantine{row: row.id, reason: reason, err: err})
}

// quarantineNoted moves the rows the batch noted to the quarantine.
func quarantineNoted(ctx context.Context, tx store.Tx, m *memo) error {
	for _, q := range m.quarantines {
		if err := tx.QuarantineInbox(ctx, q.row, q.reason, q.err.Error()); err != nil {
			return err
		}
	}
	return nil
}

// fail counts a failed attempt at row in tx (store.FailInboxRow): it
// waits, or is quarantined at its MaxAttempts-th failure.
func (p *Processor) fail(ctx context.Context, tx store.Tx, row store.ClaimedInboxRow, cause error, m *memo, st *Stats) error {
	attempts, quarantined, err := tx.FailInboxRow(ctx, row.ID, cause.Error(), retry, QuarantineFailed)
	if err != nil || attempts == 0 {
		return err
	}
	st.Failed++
	if quarantined {
		st.Quarantined++
	}
	m.failures = append(m.failures, failure{row: row.ID, attempts: attempts, quarantined: quarantined, err: cause})
	return nil
}

// reportQuarantine counts and logs, once the batch committed, the rows it
// quarantined and those that failed.
func (p *Processor) reportQuarantine(m *memo) {
	for _, q := range m.quarantines {
		p.quarantined(q.row, q.reason, 0, q.err)
	}
	for _, f := range m.failures {
		if p.metrics != nil {
			p.metrics.failures.Inc()
		}
		if f.quarantined {
			p.quarantined(f.row, QuarantineFailed, f.attempts, f.err)
			continue
		}
		p.logger.Warn("intake: inbox row failed; it will be tried again", "inbox_row", f.row, "attempts", f.attempts,
			"max_attempts", MaxAttempts, "err", f.err)
	}
}

func (p *Processor) quarantined(row int64, reason string, attempts int, err error) {
	if p.metrics != nil {
		p.metrics.quarantined.WithLabelValues(reason).Inc()
	}
	p.logger.Warn("intake: inbox row quarantined", "inbox_row", row, "reason", reason, "attempts", attempts, "err", err)
}

// ReplayQuarantined puts quarantined inbox rows back in the inbox — those
// with ids, or every one when ids is nil — audited as actor's, and
// returns how many went back. The processors judge them again as new.
func ReplayQuarantined(ctx context.Context, st *store.Store, ids []int64, actor string) (int64, error) {
	var n int64
	err := st.InTx(ctx, func(tx store.Tx) error {
		var err error
		if n, err = tx.ReplayQuarantinedInbox(ctx, ids); err != nil {
			return err
		}
		detail := map[string]any{"replayed": n}
		if ids != nil {
			detail["ids"] = ids
		}
		return tx.Audit(ctx, nil, actor, "inbox.replayed", detail)
	})
	if err != nil {
		return 0, fmt.Errorf("replay quarantined inbox rows: %w", err)
	}
	return n, nil
}

// RedactedPayload is a quarantined row's payload as people may see it:
// every item's clientState — the secret that proves to us an item came
// from our subscription — replaced, the rest as Graph sent it. A payload
// without a list of items is returned as it is.
func RedactedPayload(payload []byte) []byte {
	var coll map[string]json.RawMessage
	var items []map[string]json.RawMessage
	if json.Unmarshal(payload, &coll) != nil || json.Unmarshal(coll["value"], &items) != nil {
		return payload
	}
	for _, it := range items {
		if _, ok := it["clientState"]; ok {
			it["clientState"] = json.RawMessage(`"[redacted]"`)
		}
	}
	coll["value"], _ = json.Marshal(items)
	out, err := json.Marshal(coll)
	if err != nil {
		return payload
	}
	return out
}
