//go:build faults

package faults

import (
	"testing"
	"time"
)

// (h) SIGTERM during load, as a deploy sends it: each process stops
// within PB_SHUTDOWN_TIMEOUT with exit code 0 — the web role drains the
// POSTs under way with its committer still running, the worker finishes
// or hands back what it holds — comes back, and nothing acknowledged is
// lost.
func TestSIGTERMDuringLoadStopsCleanlyAndLosesNothing(t *testing.T) {
	const timeout = 10 * time.Second
	for _, split := range []bool{false, true} {
		name, roles := "serve", []string{"serve"}
		if split {
			name, roles = "web and worker", []string{"web", "worker-1"}
		}
		t.Run(name, func(t *testing.T) {
			s := sized()
			w := Start(t, Options{Users: s.users, Split: split, Env: []string{"PB_SHUTDOWN_TIMEOUT=" + timeout.String()}})
			tr := w.Drive(s.rate)
			for _, role := range roles {
				time.Sleep(s.load / 2)
				began := time.Now()
				if err := w.Proc(role).Stop(timeout + 5*time.Second); err != nil {
					t.Errorf("SIGTERM: %v", err)
				}
				took := time.Since(began)
				t.Logf("%s stopped %v after SIGTERM", role, took.Round(time.Millisecond))
				if took > timeout+time.Second {
					t.Errorf("%s took %v to stop, PB_SHUTDOWN_TIMEOUT is %v", role, took, timeout)
				}
				w.StartRole(role)
			}
			time.Sleep(s.load)
			t.Logf("%d presence changes", tr.Stop())
			w.Check(w.Settle(60*time.Second), Expect{Overtaken: true})
		})
	}
}
