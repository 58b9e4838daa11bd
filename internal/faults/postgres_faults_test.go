//go:build faults

package faults

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// (d) PostgreSQL stops under load — SIGQUIT (an immediate shutdown: no
// checkpoint, crash recovery at the next start) or SIGKILL of all its
// processes — and is started again at once. The product's processes keep
// running: the intake answers Graph 503 meanwhile (Graph retries), the
// pools reconnect, and nothing acknowledged is lost.
func TestPostgresRestartedAtOnceUnderLoadLosesNothing(t *testing.T) {
	for _, c := range []struct {
		name string
		stop func(*Postgres) error
	}{
		{"immediate shutdown", (*Postgres).Immediate},
		{"SIGKILL", (*Postgres).Kill},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := sized()
			w := Start(t, Options{Users: s.users})
			tr := w.Drive(s.rate)
			time.Sleep(s.load)
			if err := c.stop(w.PG); err != nil {
				t.Fatal(err)
			}
			if err := w.PG.Restart(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Log("PostgreSQL restarted")
			time.Sleep(s.load)
			t.Logf("%d presence changes", tr.Stop())
			w.Check(w.Settle(60*time.Second), Expect{Overtaken: true})
			w.StillRunning(t, "serve")
		})
	}
}

// (e) PostgreSQL cannot be reached for a while (30 s in the full form):
// refused (connections reset, new ones refused) or blackholed (what the
// product sends gets no answer). The intake answers Graph 503 — at once,
// not after Graph's 3 s, so Graph retries and does not count the web
// role as slow — never 202, and recovers when the database is back,
// without a restart.
func TestPostgresUnreachableIntakeAnswers503AndRecoversWithoutRestart(t *testing.T) {
	outage := 3 * time.Second
	if full() {
		outage = 30 * time.Second
	}
	for _, c := range []struct {
		name     string
		cut, end func(*Postgres)
	}{
		{"refused", (*Postgres).Cut, (*Postgres).Restore},
		{"blackholed", (*Postgres).Stall, (*Postgres).Unstall},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := sized()
			w := Start(t, Options{Users: s.users})
			tr := w.Drive(s.rate)
			time.Sleep(s.load / 2)
			from := time.Now()
			c.cut(w.PG)
			time.Sleep(outage)
			to := time.Now()
			c.end(w.PG)
			t.Logf("PostgreSQL unreachable (%s) for %s", c.name, outage)
			time.Sleep(s.load)
			t.Logf("%d presence changes", tr.Stop())
			w.Check(w.Settle(60*time.Second), Expect{Overtaken: true})
			w.StillRunning(t, "serve")
			// A commit under way when the outage began may still be
			// answered in its first moments.
			during := w.Front.Answers(from.Add(500*time.Millisecond), to)
			after := w.Front.Answers(to, time.Now())
			t.Logf("the intake answered Graph %v during the outage, %v after", during, after)
			if during[http.StatusServiceUnavailable] == 0 || during[http.StatusAccepted] > 0 || len(during) != 1 {
				t.Errorf("during the outage the intake answered %v, want only 503s", during)
			}
			if after[http.StatusAccepted] == 0 {
				t.Errorf("after the outage the intake answered %v, want 202s again", after)
			}
		})
	}
}
