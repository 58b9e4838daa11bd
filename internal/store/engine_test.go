package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/testkit"
)

// A re-read request made while the re-read is under way survives its
// clean-up: the intake never waits on a repair, and nothing asked is lost.
func TestResyncQueueKeepsARequestMadeDuringTheReread(t *testing.T) {
	ctx := context.Background()
	st, tenant := directoryFixture(t)
	a, b := uuid.New(), uuid.New()
	for _, u := range []uuid.UUID{a, b} {
		if err := st.QueueResync(ctx, tenant, u, "basic notification"); err != nil {
			t.Fatal(err)
		}
	}
	q, err := st.PendingResyncs(ctx, tenant, 10)
	if err != nil || len(q.Users) != 2 || len(q.Sync) != 0 {
		t.Fatalf("pending = %+v, %v", q, err)
	}
	// While Graph is being read, b is asked for again.
	if err := st.QueueResync(ctx, tenant, b, "missed notifications"); err != nil {
		t.Fatal(err)
	}
	if err := st.ClearResyncs(ctx, tenant, q.Users, q.UpTo); err != nil {
		t.Fatal(err)
	}
	left, _ := st.PendingResyncs(ctx, tenant, 10)
	if len(left.Users) != 1 || left.Users[0] != b.String() {
		t.Fatalf("left in the queue = %v, want only %s", left.Users, b)
	}
}

func TestQueueMonitorResyncQueuesExactlyItsUsers(t *testing.T) {
	ctx := context.Background()
	st, tenant := directoryFixture(t)
	m1, err := st.AddMonitor(ctx, tenant, "m1@contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	m2, err := st.AddMonitor(ctx, tenant, "m2@contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	mine, theirs := uuid.New(), uuid.New()
	for i, u := range []struct {
		id uuid.UUID
		m  uuid.UUID
	}{{mine, m1.ID}, {theirs, m2.ID}} {
		if _, err := st.Pool().Exec(ctx, `INSERT INTO directory_users (tenant_id, upn, object_id, monitor_id, resolution_status)
			VALUES ($1, $2, $3, $4, 'resolved')`, tenant, []string{"a@contoso.example", "b@contoso.example"}[i], u.id, u.m); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.QueueMonitorResync(ctx, tenant, m1.ID, "missed notifications"); err != nil {
		t.Fatal(err)
	}
	queued, _ := st.PendingResyncs(ctx, tenant, 10)
	if len(queued.Users) != 1 || queued.Users[0] != mine.String() {
		t.Fatalf("queued = %v, want only %s", queued.Users, mine)
	}
}

// Every write of a tenant's users is reported once by TakeRosterChanges —
// inserts, updates and deletes alike — and a write committed after a take
// is reported by the next: the engine takes before it reads the roster,
// so a write it did not read is never forgotten.
func TestRosterChangesCommittedAfterATakeAreReportedByTheNext(t *testing.T) {
	ctx := context.Background()
	st, tenant := directoryFixture(t)
	take := func(want bool, when string) {
		t.Helper()
		if got, err := st.TakeRosterChanges(ctx, tenant); err != nil || got != want {
			t.Fatalf("%s: TakeRosterChanges = %v, %v; want %v", when, got, err, want)
		}
	}
	take(false, "a new tenant")
	testkit.Exec(t, st.Pool(), `INSERT INTO directory_users (tenant_id, upn, object_id, resolution_status)
		VALUES ($1, 'a@contoso.example', $2, 'resolved')`, tenant, uuid.New())
	take(true, "after an insert")
	take(false, "taken twice")
	testkit.Exec(t, st.Pool(), `UPDATE directory_users SET display_name = 'A' WHERE tenant_id = $1`, tenant)
	take(true, "after an update")

	// A write whose transaction began before the take commits after it.
	tx, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `DELETE FROM directory_users WHERE tenant_id = $1`, tenant); err != nil {
		t.Fatal(err)
	}
	take(false, "while the delete is uncommitted")
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	take(true, "once the delete committed")

	// Another tenant's writes are its own.
	other, err := st.CreateTenant(ctx, "Fabrikam", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Exec(t, st.Pool(), `INSERT INTO directory_users (tenant_id, upn, object_id, resolution_status)
		VALUES ($1, 'b@fabrikam.example', $2, 'resolved')`, other.ID, uuid.New())
	take(false, "after another tenant's insert")
}

// A purged tenant's users leave no roster change behind (the table has no
// key to tenants, so nothing else would delete them).
func TestAPurgedTenantLeavesNoRosterChanges(t *testing.T) {
	ctx := context.Background()
	st, tenant := directoryFixture(t)
	testkit.Exec(t, st.Pool(), `INSERT INTO directory_users (tenant_id, upn, object_id, resolution_status)
		VALUES ($1, 'a@contoso.example', $2, 'resolved')`, tenant, uuid.New())
	testkit.Exec(t, st.Pool(), `DELETE FROM roster_changes`)
	testkit.Exec(t, st.Pool(), `DELETE FROM tenants WHERE id = $1`, tenant)
	var left int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM roster_changes`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("roster changes after the purge: %d, %v", left, err)
	}
	var users int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM directory_users WHERE tenant_id = $1`, tenant).Scan(&users); err != nil || users != 0 {
		t.Fatalf("users after the purge: %d, %v (the cascade did not run: the test shows nothing)", users, err)
	}
}
