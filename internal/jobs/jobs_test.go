package jobs

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"presencebridge/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

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
	client, err := NewClient(pool, Options{Logger: slog.New(slog.DiscardHandler), Work: true})
	if err != nil {
		t.Fatal(err)
	}
	done, cancel := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
	defer cancel()
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer client.Stop(context.Background())

	// RunOnStart inserts the periodic sweep as soon as this client leads.
	select {
	case ev := <-done:
		if ev.Kind != river.EventKindJobCompleted || ev.Job.Kind != "session_sweep" {
			t.Fatalf("first job event: %s %s, errors %v", ev.Kind, ev.Job.Kind, ev.Job.Errors)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the session sweep did not run within 20s of start")
	}
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
