package jobs

import (
	"testing"
	"time"

	"github.com/riverqueue/river"

	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

// TestRetentionBoundsTheDeadLettersKeptPerUserAndKeepsTheRest: the hourly
// clean-up leaves a user at most deadLettersPerUser dead letters at an
// endpoint — the newest — deletes the old events of those it trimmed and
// counts them on the endpoint, and keeps every old event whose delivery is
// still dead.
func TestRetentionBoundsTheDeadLettersKeptPerUserAndKeepsTheRest(t *testing.T) {
	ctx := t.Context()
	pool := testkit.DB(t)
	testkit.Exec(t, pool, `
		INSERT INTO tenants (id, name) VALUES ('00000000-0000-4000-8000-000000000001', 'C');
		INSERT INTO secrets (id, tenant_id, purpose, key_id, ciphertext) VALUES ('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000001', 'webhook-signing-secret', 'k', '\x00');
		INSERT INTO endpoints (id, tenant_id, url, signing_secret_id, enabled) VALUES ('00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000001', 'https://x', '00000000-0000-4000-8000-000000000002', false)`)
	testkit.Exec(t, pool, `INSERT INTO presence_events (tenant_id, user_object_id, sequence, availability, activity, mapped_state, source, observed_at, created_at)
		SELECT '00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-00000000000a', g, 'Busy', 'InACall', 'talking', 'notification', now(),
			now() - interval '40 days'
		FROM generate_series(1, $1::int) g`, deadLettersPerUser+3)
	testkit.Exec(t, pool, `INSERT INTO deliveries (tenant_id, endpoint_id, event_id, status)
		SELECT tenant_id, '00000000-0000-4000-8000-000000000003', id, 'dead' FROM presence_events`)
	w := &RetentionWorker{st: store.New(pool, nil), keep: 30 * 24 * time.Hour}
	if err := w.Work(ctx, &river.Job[RetentionArgs]{}); err != nil {
		t.Fatal(err)
	}
	var events, dead, oldest, trimmed int
	pool.QueryRow(ctx, `SELECT count(*), min(sequence) FROM presence_events`).Scan(&events, &oldest)
	pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE status = 'dead'`).Scan(&dead)
	pool.QueryRow(ctx, `SELECT dead_letters_trimmed FROM endpoints`).Scan(&trimmed)
	if events != deadLettersPerUser || dead != deadLettersPerUser || oldest != 4 || trimmed != 3 {
		t.Errorf("left %d events from #%d and %d dead letters, %d counted trimmed; want the newest %d of each, 3 trimmed",
			events, oldest, dead, trimmed, deadLettersPerUser)
	}
}

// TestRetentionDeletesQuarantinedInboxRowsWithTheHistoryOfTheirTime: a
// quarantined notification is kept for support and replayable as long as
// the presence history of its time is, then goes.
func TestRetentionDeletesQuarantinedInboxRowsWithTheHistoryOfTheirTime(t *testing.T) {
	ctx := t.Context()
	pool := testkit.DB(t)
	testkit.Exec(t, pool, `INSERT INTO inbox_quarantine (id, received_at, kind, payload, items, attempts, reason, error) VALUES
		(1, now() - interval '40 days', 'change', '{}', 1, 10, 'failed', 'x'),
		(2, now() - interval '1 day', 'change', '{}', 1, 0, 'bad_validation_token', 'y')`)
	w := &RetentionWorker{st: store.New(pool, nil), keep: 30 * 24 * time.Hour}
	if err := w.Work(ctx, &river.Job[RetentionArgs]{}); err != nil {
		t.Fatal(err)
	}
	var left []int64
	rows, _ := pool.Query(ctx, `SELECT id FROM inbox_quarantine ORDER BY id`)
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		left = append(left, id)
	}
	if len(left) != 1 || left[0] != 2 {
		t.Errorf("quarantined rows left: %v, want only the recent one", left)
	}
}
