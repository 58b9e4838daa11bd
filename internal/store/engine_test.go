package store_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
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
