package enginetest

import "testing"

// A cold start's first pass creates every subscription, whose users are
// re-read because a new subscription may have missed changes, and is also
// the process's first pass over the tenant, which re-reads everyone: each
// user's presence is read once, not once for each reason (issue 16: a
// million users' cold start read two million presences).
func TestAFirstPassReadsEachUsersPresenceOnce(t *testing.T) {
	b := newBridge(t, bridgeOptions{users: 1300, monitors: 3, authorized: 3, pipeline: true})
	w := b.worker(0, nil)
	before := b.e.Sim.Coverage().PresencesRead
	if rep, ran, err := w.runner.Tenant(t.Context(), b.tenant); err != nil || !ran {
		t.Fatalf("first pass: %+v %v %v", rep, ran, err)
	}
	if read := b.e.Sim.Coverage().PresencesRead - before; read != 1300 {
		t.Errorf("the first pass read %d presences of 1,300 users, want each once", read)
	}
	var rows int
	b.pool.QueryRow(t.Context(), `SELECT count(*) FROM presence WHERE tenant_id = $1`, b.tenant).Scan(&rows)
	if rows != 1300 {
		t.Errorf("presence rows after the first pass = %d, want 1,300", rows)
	}
	// A second process's first pass (a restart) reads everyone again: no
	// subscription is new, the periodic repair is its only reason.
	w2 := b.worker(0, nil)
	before = b.e.Sim.Coverage().PresencesRead
	if _, ran, err := w2.runner.Tenant(t.Context(), b.tenant); err != nil || !ran {
		t.Fatalf("another process's first pass: %v %v", ran, err)
	}
	if read := b.e.Sim.Coverage().PresencesRead - before; read != 1300 {
		t.Errorf("a restarted process's first pass read %d presences, want 1,300", read)
	}
}

// Two workers started together both pass over every tenant: the one whose
// pass reaches a tenant the other has just repaired does not read its
// users again — the gap before they started is repaired once.
func TestAWorkerStartedBesideAnotherDoesNotRepairWhatTheOtherRepaired(t *testing.T) {
	b := newBridge(t, bridgeOptions{users: 1300, monitors: 3, authorized: 3, pipeline: true})
	w1, w2 := b.worker(0, nil), b.worker(0, nil)
	if _, ran, err := w1.runner.Tenant(t.Context(), b.tenant); err != nil || !ran {
		t.Fatalf("the first worker's pass: %v %v", ran, err)
	}
	before := b.e.Sim.Coverage().PresencesRead
	if _, ran, err := w2.runner.Tenant(t.Context(), b.tenant); err != nil || !ran {
		t.Fatalf("the second worker's pass: %v %v", ran, err)
	}
	if read := b.e.Sim.Coverage().PresencesRead - before; read != 0 {
		t.Errorf("the second worker's first pass read %d presences after the first had repaired the tenant, want 0", read)
	}
}
