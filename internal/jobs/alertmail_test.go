package jobs

import (
	"context"
	"testing"
	"time"

	"presencebridge/internal/testkit"
)

type countingMailer chan struct{}

func (c countingMailer) Pass(context.Context) (int, error) { c <- struct{}{}; return 0, nil }

// A worker with alert mail configured passes over the alerts as soon as it
// leads, and then every minute.
func TestAlertMailPassesRunOnAWorker(t *testing.T) {
	pool := testkit.DB(t)
	passes := make(countingMailer, 10)
	events := startWorker(t, pool, Options{Alerts: passes})
	select {
	case <-passes:
	case <-time.After(20 * time.Second):
		t.Fatal("no alert mail pass within 20s of start")
	}
	awaitJob(t, events, "alert_mail")
}
