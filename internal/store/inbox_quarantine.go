package store

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// InboxRetry is how an inbox row that failed is tried again: after First,
// then twice as long each time up to Max, until it has failed
// MaxAttempts times and is quarantined.
type InboxRetry struct {
	MaxAttempts int
	First, Max  time.Duration
}

// FailInboxRow counts a failed attempt at an inbox row in tx, with cause
// as its last error: the row waits out the retry's backoff (the claim
// skips it till then) or, at its MaxAttempts-th failure, is quarantined
// as reason. It returns the row's attempts and whether it was
// quarantined; a row gone meanwhile (quarantined or done by another
// processor) counts nothing (0 attempts).
func (s Tx) FailInboxRow(ctx context.Context, id int64, cause string, r InboxRetry, reason string) (int, bool, error) {
	var attempts int
	err := s.db.QueryRow(ctx, `UPDATE inbox SET attempts = attempts + 1, last_error = $2,
			retry_at = now() + least($4::interval, $3::interval * power(2, attempts))
		WHERE id = $1 RETURNING attempts`, id, cause, r.First.String(), r.Max.String()).Scan(&attempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil || attempts < r.MaxAttempts {
		return attempts, false, wrap("fail inbox row", err)
	}
	return attempts, true, s.QuarantineInbox(ctx, id, reason, cause)
}

// QuarantineInbox moves an inbox row to the quarantine in tx, with the
// reason and the error that sent it there.
func (s Tx) QuarantineInbox(ctx context.Context, id int64, reason, cause string) error {
	_, err := s.db.Exec(ctx, `WITH q AS (
			DELETE FROM inbox WHERE id = $1 RETURNING id, received_at, kind, payload, items, attempts
		)
		INSERT INTO inbox_quarantine (id, received_at, kind, payload, items, attempts, reason, error)
		SELECT id, received_at, kind, payload, items, attempts, $2, $3 FROM q`, id, reason, cause)
	return wrap("quarantine inbox row", err)
}

// ClaimInboxRows locks, in tx, those of ids still in the inbox and due
// that no other processor holds: a failed batch's rows, tried again one by
// one (FailInboxRow counts what fails alone).
func (s Tx) ClaimInboxRows(ctx context.Context, ids []int64) ([]ClaimedInboxRow, error) {
	rows, err := s.db.Query(ctx, `SELECT id, kind, payload, received_at FROM inbox
		WHERE id = ANY($1) AND (retry_at IS NULL OR retry_at <= now()) ORDER BY id FOR UPDATE SKIP LOCKED`, ids)
	if err != nil {
		return nil, wrap("claim inbox rows by id", err)
	}
	v, err := collectInbox(rows)
	return v, wrap("claim inbox rows by id", err)
}

func collectInbox(rows pgx.Rows) ([]ClaimedInboxRow, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ClaimedInboxRow, error) {
		var x ClaimedInboxRow
		return x, r.Scan(&x.ID, &x.Kind, &x.Payload, &x.ReceivedAt)
	})
}

// Transient reports whether err is the database refusing for a while
// rather than for what a statement carried: a connection, transaction
// (deadlock, serialization), resource or operator (shutdown, cancel)
// condition, which a later try may pass.
func Transient(err error) bool {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || len(pg.Code) < 2 {
		return false
	}
	switch pg.Code[:2] {
	case "08", "40", "53", "57", "58":
		return true
	}
	return false
}

// QuarantinedInboxRow is an inbox row in quarantine: what Graph sent, and
// why it was not applied.
type QuarantinedInboxRow struct {
	ID            int64
	ReceivedAt    time.Time
	Kind          string
	Payload       []byte
	Items         int
	Attempts      int
	Reason        string
	Error         string
	QuarantinedAt time.Time
}

// QuarantinedInbox lists up to limit quarantined inbox rows, oldest
// first.
func (s *Store) QuarantinedInbox(ctx context.Context, limit int) ([]QuarantinedInboxRow, error) {
	rows, err := s.db.Query(ctx, `SELECT id, received_at, kind, payload, items, attempts, reason, error, quarantined_at
		FROM inbox_quarantine ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return nil, wrap("quarantined inbox rows", err)
	}
	v, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (QuarantinedInboxRow, error) {
		var q QuarantinedInboxRow
		return q, r.Scan(&q.ID, &q.ReceivedAt, &q.Kind, &q.Payload, &q.Items, &q.Attempts, &q.Reason, &q.Error, &q.QuarantinedAt)
	})
	return v, wrap("quarantined inbox rows", err)
}

// ReplayQuarantinedInbox puts quarantined rows back in the inbox — those
// with ids, or all when ids is nil — under their own ids and receipt
// times, with no attempt counted, wakes the processors and returns how
// many went back. The processor judges them again as new: stale changes
// (by Graph's sequenceNumber) are dropped then, not applied backwards.
func (s *Store) ReplayQuarantinedInbox(ctx context.Context, ids []int64) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `WITH q AS (
			DELETE FROM inbox_quarantine WHERE $1::bigint[] IS NULL OR id = ANY($1)
			RETURNING id, received_at, kind, payload, items
		), back AS (
			INSERT INTO inbox (id, received_at, kind, payload, items) OVERRIDING SYSTEM VALUE
			SELECT id, received_at, kind, payload, items FROM q
			RETURNING 1
		)
		SELECT count(*) FROM back`, ids).Scan(&n)
	if err == nil && n > 0 {
		_, err = s.db.Exec(ctx, `SELECT pg_notify($1, $2)`, InboxNotifyChannel, strconv.FormatInt(n, 10))
	}
	return n, wrap("replay quarantined inbox rows", err)
}

// DeleteOldQuarantinedInbox deletes up to limit quarantined rows received
// longer ago than keep — the presence they carry is history by then, kept
// no longer than the history itself — and returns how many.
func (s *Store) DeleteOldQuarantinedInbox(ctx context.Context, keep time.Duration, limit int) (int64, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM inbox_quarantine WHERE id IN (
		SELECT id FROM inbox_quarantine WHERE received_at < now() - $1::interval LIMIT $2)`, keep.String(), limit)
	return tag.RowsAffected(), wrap("delete old quarantined inbox rows", err)
}
