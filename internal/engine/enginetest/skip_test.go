package enginetest

import (
	"testing"
	"time"

	"presencebridge/internal/engine"
	"presencebridge/internal/testkit"
)

// A pass over a tenant where nothing changed since its last clean
// reconciliation reads no roster and asks Graph nothing (issue 16: at a
// million users the engine's minute re-read 1,000 rosters to find nothing
// to do, and changes queued behind it); whatever does change — a user
// written, a subscription due for renewal, a monitor gone — brings the
// full reconciliation back in the next pass.
func TestAPassWithNothingChangedReadsNoRoster(t *testing.T) {
	b := newBridge(t, bridgeOptions{users: 40, monitors: 2, authorized: 2})
	w := b.worker(30, nil)
	ctx := t.Context()
	pass := func(when string) engine.Report {
		t.Helper()
		rep, ran, err := w.runner.Tenant(ctx, b.tenant)
		if err != nil || !ran {
			t.Fatalf("%s: pass = %v, ran %v", when, err, ran)
		}
		return rep
	}
	// The first pass places the users and makes the subscriptions cover
	// them; its placement is not a change of the roster (migration
	// 000057), so from the second pass on nothing has changed.
	if rep := pass("first"); rep.Skipped || len(b.ours()) != 2 {
		t.Fatalf("first pass: %+v, %d subscriptions", rep, len(b.ours()))
	}
	rep := pass("second")
	if !rep.Skipped || rep.Users != 40 || rep.Monitors != 2 || rep.Unmonitored != 0 {
		t.Fatalf("second pass, nothing changed since the first placed everyone: %+v; want skipped with the last counts", rep)
	}

	// A user leaves the roster: the next pass reconciles, and the
	// subscription covering them is replaced by one without them.
	testkit.Exec(t, b.pool, `DELETE FROM directory_users WHERE tenant_id = $1 AND object_id = $2`, b.tenant, b.ten.Users[0].ID)
	if rep := pass("after a user left"); rep.Skipped || rep.Users != 39 {
		t.Fatalf("pass after a user left: %+v", rep)
	}
	covered := 0
	for _, s := range b.ours() {
		covered += usersIn(s.Resource)
	}
	if covered != 39 {
		t.Fatalf("%d users covered at Graph after one of 40 left, want 39", covered)
	}
	pass("after the replacement")
	if rep := pass("settled again"); !rep.Skipped {
		t.Fatalf("nothing changed since the replacement, yet: %+v", rep)
	}

	// The subscriptions come due for renewal (every 40 minutes at points of
	// their own): passes a minute apart renew each when it is due, and skip
	// in between.
	renewed := map[string]int{}
	for range 45 {
		b.e.Advance(time.Minute)
		for m, o := range pass("over 45 minutes").Outcomes {
			if o == engine.Renewed {
				renewed[m.String()]++
			}
		}
	}
	if len(renewed) != 2 {
		t.Fatalf("renewed in 45 minutes: %v; want both monitors' subscriptions", renewed)
	}

	// A monitor's grant goes: its users move to the other in the next pass.
	testkit.Exec(t, b.pool, `UPDATE monitors SET status = 'needs_reauth' WHERE id = $1`, b.monitors[1])
	if rep := pass("after a monitor's grant went"); rep.Skipped || rep.Monitors != 1 || rep.Unmonitored != 9 {
		t.Fatalf("pass after a monitor's grant went: %+v; want 30 users on the one left, 9 unmonitored", rep)
	}
}

// A process started again finds the tenants its predecessor reconciled as
// they were left and does not reconcile them in full (at a million users
// that first pass read every roster and spelled every subscription's
// resource while the restart's repair waited for the cores; issue 16),
// but it still repairs everyone: the restart may have left a gap. A
// digest recorded by a build that places or spells a placement otherwise
// (engine.buildMeaning) matches nothing, and the tenant is reconciled in
// full.
func TestARestartedRunnerSkipsWhatTheLastOneReconciled(t *testing.T) {
	b := newBridge(t, bridgeOptions{users: 40, monitors: 2, authorized: 2})
	ctx := t.Context()
	pass := func(w *worker, when string) engine.Report {
		t.Helper()
		rep, ran, err := w.runner.Tenant(ctx, b.tenant)
		if err != nil || !ran {
			t.Fatalf("%s: pass = %v, ran %v", when, err, ran)
		}
		return rep
	}
	first := b.worker(30, nil)
	if rep := pass(first, "first process"); rep.Skipped || rep.Monitors != 2 {
		t.Fatalf("first process's pass: %+v", rep)
	}
	subs := b.ours()

	b.e.Advance(time.Minute)
	restarted := b.e.Now()
	rep := pass(b.worker(30, nil), "after a restart")
	if !rep.Skipped || rep.Users != 40 || rep.Monitors != 2 {
		t.Fatalf("pass after a restart, nothing changed: %+v; want skipped with the last counts", rep)
	}
	if st, err := b.st.EngineStatus(ctx, b.tenant); err != nil || st.LastRepairAt == nil || st.LastRepairAt.Before(restarted) {
		t.Fatalf("the restarted runner's pass did not repair the tenant: last repair %v (%v), restarted at %v", st.LastRepairAt, err, restarted)
	}
	if got := b.ours(); len(got) != len(subs) {
		t.Fatalf("subscriptions after the restart: %d, want the %d there were", len(got), len(subs))
	}

	testkit.Exec(t, b.pool, `UPDATE engine_tenants SET reconciled_digest = reconciled_digest # 1 WHERE tenant_id = $1`, b.tenant)
	if rep := pass(b.worker(30, nil), "after a restart as another build"); rep.Skipped {
		t.Fatalf("a digest of another build was taken for this one's: %+v", rep)
	}
}
