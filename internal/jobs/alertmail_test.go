package jobs

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

type countingMailer chan struct{}

func (c countingMailer) Pass(context.Context) (int, error) { c <- struct{}{}; return 0, nil }

// A worker with alert mail configured passes over the alerts as soon as it
// leads, and then every minute.
func TestAlertMailPassesRunOnAWorker(t *testing.T) {
	ctx := t.Context()
	pool := testkit.DB(t)
	passes := make(countingMailer, 10)
	client, err := NewClient(store.New(pool, nil), Options{Logger: slog.New(slog.DiscardHandler), Work: true, Alerts: passes})
	if err != nil {
		t.Fatal(err)
	}
	done, cancel := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
	defer cancel()
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer client.Stop(context.Background())
	select {
	case <-passes:
	case <-time.After(20 * time.Second):
		t.Fatal("no alert mail pass within 20s of start")
	}
	for {
		select {
		case ev := <-done:
			if ev.Job.Kind != "alert_mail" {
				continue
			}
			if ev.Kind != river.EventKindJobCompleted {
				t.Fatalf("alert mail job: %s, errors %v", ev.Kind, ev.Job.Errors)
			}
			return
		case <-time.After(20 * time.Second):
			t.Fatal("the alert mail job did not complete")
		}
	}
}
