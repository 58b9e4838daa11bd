package jobs

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// startWorker starts a working client on pool with opts and returns its
// job completions and failures; the client stops when the test ends.
func startWorker(t *testing.T, pool *pgxpool.Pool, opts Options) <-chan *river.Event {
	t.Helper()
	opts.Logger, opts.Work = slog.New(slog.DiscardHandler), true
	client, err := NewClient(store.New(pool, nil), opts)
	if err != nil {
		t.Fatal(err)
	}
	done, cancel := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
	t.Cleanup(cancel)
	if err := client.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Stop(context.Background()) })
	return done
}

// awaitJob waits (up to 20 s) for a job of kind to complete, and fails
// the test if it fails.
func awaitJob(t *testing.T, events <-chan *river.Event, kind string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Job.Kind != kind {
				continue
			}
			if ev.Kind != river.EventKindJobCompleted {
				t.Fatalf("%s: %s, errors %v", kind, ev.Kind, ev.Job.Errors)
			}
			return
		case <-deadline:
			t.Fatalf("no %s job completed within 20s of start", kind)
		}
	}
}

func TestSessionSweepDeletesOnlyExpiredSessions(t *testing.T) {
	ctx := t.Context()
	pool := testkit.DB(t)
	_, err := pool.Exec(ctx, `
		INSERT INTO sessions (token, data, expiry)
		SELECT 'old' || g, '\x00', now() - interval '1 minute' FROM generate_series(1, 2500) g;
		INSERT INTO sessions (token, data, expiry) VALUES ('live', '\x00', now() + interval '1 hour')`)
	if err != nil {
		t.Fatal(err)
	}
	// RunOnStart inserts the periodic sweep as soon as this client leads
	// (beside other periodic jobs).
	awaitJob(t, startWorker(t, pool, Options{}), "session_sweep")
	var left []string
	rows, _ := pool.Query(ctx, `SELECT token FROM sessions`)
	for rows.Next() {
		var tok string
		rows.Scan(&tok)
		left = append(left, tok)
	}
	if len(left) != 1 || left[0] != "live" {
		t.Fatalf("sessions left after sweep: %d (%v...), want only the live one", len(left), left[:min(3, len(left))])
	}
}

func TestRetentionKeepsRecentAndUndeliveredEvents(t *testing.T) {
	ctx := t.Context()
	pool := testkit.DB(t)
	_, err := pool.Exec(ctx, `
		INSERT INTO tenants (id, name) VALUES ('00000000-0000-4000-8000-000000000001', 'C');
		INSERT INTO secrets (id, tenant_id, purpose, key_id, ciphertext) VALUES ('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000001', 'webhook-signing-secret', 'k', '\x00');
		INSERT INTO endpoints (id, tenant_id, url, signing_secret_id) VALUES ('00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000001', 'https://x', '00000000-0000-4000-8000-000000000002');
		INSERT INTO presence_events (tenant_id, user_object_id, sequence, availability, activity, mapped_state, source, observed_at, created_at)
		SELECT '00000000-0000-4000-8000-000000000001', gen_random_uuid(), g, 'Busy', 'InACall', 'talking', 'notification', now(),
			CASE WHEN g <= 6000 THEN now() - interval '40 days' ELSE now() END
		FROM generate_series(1, 6010) g;
		INSERT INTO deliveries (tenant_id, endpoint_id, event_id, status)
		SELECT tenant_id, '00000000-0000-4000-8000-000000000003', id, CASE WHEN sequence <= 3 THEN 'pending' ELSE 'delivered' END
		FROM presence_events WHERE sequence <= 10`)
	if err != nil {
		t.Fatal(err)
	}
	w := &RetentionWorker{st: store.New(pool, nil), keep: 30 * 24 * time.Hour}
	if err := w.Work(ctx, &river.Job[RetentionArgs]{}); err != nil {
		t.Fatal(err)
	}
	var events, pending int
	pool.QueryRow(ctx, `SELECT count(*) FROM presence_events`).Scan(&events)
	pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE status = 'pending'`).Scan(&pending)
	if events != 13 || pending != 3 {
		t.Errorf("left %d events and %d pending deliveries; want the 10 recent + 3 old undelivered events, 3 pending", events, pending)
	}
}

func TestRetentionDeletesOperationsFinishedLongAgoAndKeepsOpenOnes(t *testing.T) {
	ctx := t.Context()
	pool := testkit.DB(t)
	_, err := pool.Exec(ctx, `
		INSERT INTO tenants (id, name) VALUES ('00000000-0000-4000-8000-000000000001', 'C');
		INSERT INTO api_operations (tenant_id, kind, status, created_by, created_at, started_at, finished_at) VALUES
			('00000000-0000-4000-8000-000000000001', 'sync', 'succeeded', 'old', now() - interval '40 days', now() - interval '40 days', now() - interval '40 days'),
			('00000000-0000-4000-8000-000000000001', 'sync', 'failed', 'recent', now() - interval '1 day', now() - interval '1 day', now() - interval '1 day'),
			('00000000-0000-4000-8000-000000000001', 'sync', 'pending', 'open', now() - interval '40 days', NULL, NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	w := &RetentionWorker{st: store.New(pool, nil), keep: 30 * 24 * time.Hour}
	if err := w.Work(ctx, &river.Job[RetentionArgs]{}); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT created_by FROM api_operations ORDER BY created_by`)
	if err != nil {
		t.Fatal(err)
	}
	left, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || strings.Join(left, ",") != "open,recent" {
		t.Errorf("operations left: %v, %v; want the open and the recent one", left, err)
	}
}
