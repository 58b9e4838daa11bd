package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// InboxRow is one POST's accepted items, as the receiver stores them.
type InboxRow struct {
	Kind    string // change or lifecycle
	Payload []byte // JSON: {"value":[…], "validationTokens":[…]}
	Items   int
}

// InsertInbox appends rows to the inbox in one statement — one multi-row
// insert from arrays, whatever the number of rows, so a group commit
// costs one round trip and one commit. Payloads go in as text, which
// PostgreSQL stores without parsing them (migration 000063).
//
// It notifies nobody: NotifyInbox wakes the processors once the rows are
// committed. A NOTIFY in this transaction took PostgreSQL's notify lock
// (one for the whole cluster, taken before the commit and released after
// its WAL flush), so the committer's workers waited for one another's
// fsync; the reference receiver, which notifies nobody, did not.
func (s *Store) InsertInbox(ctx context.Context, rows []InboxRow) error {
	kinds := make([]string, len(rows))
	payloads := make([][]byte, len(rows))
	items := make([]int32, len(rows))
	for i, r := range rows {
		kinds[i], payloads[i], items[i] = r.Kind, r.Payload, int32(r.Items)
	}
	_, err := s.db.Exec(ctx, `INSERT INTO inbox (kind, payload, items)
		SELECT * FROM unnest($1::text[], $2::text[], $3::int[])`, kinds, payloads, items)
	if err != nil {
		return fmt.Errorf("insert inbox rows: %w", err)
	}
	return nil
}

// NotifyInbox wakes the processors (InboxNotifyChannel) for n rows just
// committed. The NOTIFY commits asynchronously (synchronous_commit off for
// its transaction alone): a notification is not durable whatever the
// setting, so waiting for its WAL flush bought nothing but holding the
// notify lock through an fsync. A NOTIFY lost with its connection costs a
// processor a second (they look at the inbox every second), never a row.
func (s *Store) NotifyInbox(ctx context.Context, n int) error {
	_, err := s.db.Exec(ctx, `SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, $2)`,
		InboxNotifyChannel, strconv.Itoa(n))
	return wrap("notify the inbox's processors", err)
}

// ClaimedInboxRow is an inbox row a processor holds until tx ends.
type ClaimedInboxRow struct {
	ID         int64
	Kind       string
	Payload    []byte
	ReceivedAt time.Time
}

// ClaimInbox locks up to limit of the oldest inbox rows in tx, skipping
// rows other processors hold (FOR UPDATE SKIP LOCKED), so any number of
// processors share the inbox without waiting for one another, and rows
// waiting out a failure's backoff (FailInboxRow), so those behind them go
// on.
func (s Tx) ClaimInbox(ctx context.Context, limit int) ([]ClaimedInboxRow, error) {
	// Planned per execution: a plan cached while the inbox was empty
	// sorts all of it, and a backlog is when the inbox is not.
	rows, err := s.db.Query(ctx, `SELECT id, kind, payload, received_at FROM inbox
		WHERE retry_at IS NULL OR retry_at <= now() ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
		pgx.QueryExecModeCacheDescribe, limit)
	if err != nil {
		return nil, fmt.Errorf("claim inbox rows: %w", err)
	}
	claimed, err := collectInbox(rows)
	if err != nil {
		return nil, fmt.Errorf("claim inbox rows: %w", err)
	}
	return claimed, nil
}

// CompleteInboxBatch ends a processed inbox batch in tx in one round trip:
// it stamps each touched subscription's last notification and deletes the
// inbox rows (the batch's changes wake their readers themselves:
// ApplyPresenceBatch).
//
// A subscription's stamp moves only when it is a minute or more behind,
// so that it is written about once a minute, not at every notification:
// at a million users a batch names as many subscriptions as items, and
// with a second's granularity nearly every change updated a subscription
// row — a new row version, its index entries and WAL. What reads the
// stamp needs no finer: the console says "5 minutes ago" ("just now"
// under a minute), the tenant list sorts the quietest first, and the
// check that notifications arrive warns after 30 minutes. And a row
// another transaction holds is skipped (SKIP LOCKED), not waited for:
// that one is most likely another batch stamping it at the same moment;
// waiting, the statement averaged 12.9 ms at 100,000 users, third of all
// statements in total time (issue 16). The statement is planned once
// per connection (planning), every row found by = ANY of its key, which
// only the primary keys serve once sequential scans are off (a plan
// cached while the inbox was empty had scanned all of it): planned at
// every execution, planning was half of its CPU, 13.7–15.6 → 6.1–6.6 µs
// a change (BenchmarkCompletingBatchesAtAMillionUsers).
func (s Tx) CompleteInboxBatch(ctx context.Context, inboxIDs []int64, touched map[uuid.UUID]time.Time) error {
	subs := make([]uuid.UUID, 0, len(touched))
	ats := make([]time.Time, 0, len(touched))
	for id, at := range touched {
		subs, ats = append(subs, id), append(ats, at)
	}
	err := runPlanned(ctx, s.db, planning{generic: true}, `WITH due AS (
			SELECT s.id, x.at FROM subscriptions s JOIN unnest($1::uuid[], $2::timestamptz[]) AS x (id, at) ON s.id = x.id
			WHERE s.id = ANY ($1) AND (s.last_notification_at IS NULL OR s.last_notification_at <= x.at - interval '1 minute')
			FOR UPDATE OF s SKIP LOCKED
		), touch AS (
			UPDATE subscriptions s SET last_notification_at = due.at FROM due WHERE s.id = ANY (ARRAY(SELECT id FROM due)) AND s.id = due.id
		)
		DELETE FROM inbox WHERE id = ANY ($3)`, []any{subs, ats, inboxIDs}, func(rows pgx.Rows) error { return nil })
	if err != nil {
		return fmt.Errorf("complete inbox batch: %w", err)
	}
	return nil
}
