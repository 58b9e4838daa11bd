package jobs

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

// passFunc is an AlertMailer whose pass is the test's.
type passFunc func(ctx context.Context) (int, error)

func (f passFunc) Pass(ctx context.Context) (int, error) { return f(ctx) }

// startBlocked starts a working client whose alert mail job, run at
// start, calls pass; it returns once the job is running.
func startBlocked(t *testing.T, pass func(ctx context.Context)) *Client {
	t.Helper()
	running := make(chan struct{})
	client, err := NewClient(store.New(testkit.DB(t), nil), Options{Logger: slog.New(slog.DiscardHandler), Work: true,
		Alerts: passFunc(func(ctx context.Context) (int, error) {
			close(running)
			pass(ctx)
			return 0, ctx.Err()
		})})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-running:
	case <-time.After(20 * time.Second):
		t.Fatal("the alert mail job did not start within 20 s")
	}
	return client
}

// A job still running halfway through the time is cancelled, so that it
// ends now with an error River retries soon, rather than waiting for
// River's rescue an hour later; once it has, Shutdown is clean.
func TestShutdownCancelsAJobStillRunningHalfwayAndIsCleanOnceItEnds(t *testing.T) {
	cancelled := make(chan time.Duration, 1)
	client := startBlocked(t, func(ctx context.Context) {
		start := time.Now()
		<-ctx.Done()
		cancelled <- time.Since(start)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	if err := client.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown of a job that heeds cancellation: %v, want nil", err)
	}
	if d := <-cancelled; d < 1500*time.Millisecond {
		t.Errorf("the job was cancelled %v after it started, before half the 4 s had passed", d)
	}
}

// A job that ignores cancellation does not hold Shutdown past its
// context, and the error names it.
func TestShutdownGivesUpOnAJobThatIgnoresCancellationAndNamesIt(t *testing.T) {
	release := make(chan struct{})
	client := startBlocked(t, func(context.Context) { <-release })
	t.Cleanup(func() { close(release); client.Stop(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := client.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "alert_mail (job ") {
		t.Fatalf("Shutdown with a job ignoring cancellation: %v, want an error naming the alert_mail job", err)
	}
}
