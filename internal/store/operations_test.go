package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// syncOp creates a sync operation as the API does: in a transaction.
func syncOp(t *testing.T, st *store.Store, tenant uuid.UUID, user *uuid.UUID) store.Operation {
	t.Helper()
	var o store.Operation
	err := st.InTx(context.Background(), func(tx store.Tx) (err error) {
		o, err = tx.CreateSyncOperation(context.Background(), tenant, user, "apikey:test")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func status(t *testing.T, st *store.Store, o store.Operation) store.Operation {
	t.Helper()
	got, err := st.GetOperation(context.Background(), o.TenantID, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// drain re-reads everything queued for the tenant, as the engine's repair
// does on success.
func drain(t *testing.T, st *store.Store, tenant uuid.UUID) {
	t.Helper()
	q, err := st.PendingResyncs(context.Background(), tenant, 100000)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ClearResyncs(context.Background(), tenant, q.Users, q.UpTo); err != nil {
		t.Fatal(err)
	}
}

func TestATenantSyncQueuesEveryMonitoredUserAndSucceedsOnceTheyAreReRead(t *testing.T) {
	ctx := context.Background()
	st, ten := directoryFixture(t)
	m := authorizedMonitor(t, st, ten, "monitor@contoso.example")
	resolved(t, st, ten, &m, "a@contoso.example", "b@contoso.example")
	resolved(t, st, ten, nil, "unmonitored@contoso.example")
	o := syncOp(t, st, ten, nil)
	if o.Status != store.OperationPending || o.Kind != store.OperationSync || o.UserID != nil || o.CreatedBy != "apikey:test" {
		t.Fatalf("created %+v", o)
	}
	queued, _ := st.PendingResyncs(ctx, ten, 10)
	if len(queued.Users) != 2 || len(queued.Sync) != 2 {
		t.Errorf("queued %+v, want the two monitored users, as a sync's", queued)
	}
	// Settling before the engine started on it changes nothing.
	if err := st.SettleSyncOperations(ctx, ten, ""); err != nil {
		t.Fatal(err)
	}
	if got := status(t, st, o); got.Status != store.OperationPending {
		t.Errorf("settled before it started: %+v", got)
	}
	if n, err := st.StartSyncOperations(ctx, ten); err != nil || n != 1 {
		t.Fatalf("started %d, %v", n, err)
	}
	if got := status(t, st, o); got.Status != store.OperationRunning || got.StartedAt == nil {
		t.Errorf("started: %+v", got)
	}
	// The queue not yet re-read: still running after a clean settle.
	if err := st.SettleSyncOperations(ctx, ten, ""); err != nil {
		t.Fatal(err)
	}
	if got := status(t, st, o); got.Status != store.OperationRunning {
		t.Errorf("succeeded before its users were re-read: %+v", got)
	}
	drain(t, st, ten)
	if err := st.SettleSyncOperations(ctx, ten, ""); err != nil {
		t.Fatal(err)
	}
	if got := status(t, st, o); got.Status != store.OperationSucceeded || got.FinishedAt == nil || got.Error != "" {
		t.Errorf("after the re-read: %+v", got)
	}
}

func TestAUserSyncFailsWithTheReasonWhenItsReReadFails(t *testing.T) {
	ctx := context.Background()
	st, ten := directoryFixture(t)
	m := authorizedMonitor(t, st, ten, "monitor@contoso.example")
	ids := resolved(t, st, ten, &m, "a@contoso.example", "b@contoso.example")
	a, b := ids["a@contoso.example"], ids["b@contoso.example"]
	opA, opB := syncOp(t, st, ten, &a), syncOp(t, st, ten, &b)
	if _, err := st.StartSyncOperations(ctx, ten); err != nil {
		t.Fatal(err)
	}
	// a's re-read went through, b's did not.
	q, _ := st.PendingResyncs(ctx, ten, 10)
	var done []string
	for _, u := range q.Users {
		if u == a.String() {
			done = append(done, u)
		}
	}
	if err := st.ClearResyncs(ctx, ten, done, q.UpTo); err != nil {
		t.Fatal(err)
	}
	if err := st.SettleSyncOperations(ctx, ten, "Graph answered 503"); err != nil {
		t.Fatal(err)
	}
	if got := status(t, st, opA); got.Status != store.OperationSucceeded {
		t.Errorf("a was re-read: %+v", got)
	}
	if got := status(t, st, opB); got.Status != store.OperationFailed || got.Error != "Graph answered 503" || got.FinishedAt == nil {
		t.Errorf("b was not: %+v", got)
	}
	// The queue keeps b for the engine's next pass.
	if q, _ := st.PendingResyncs(ctx, ten, 10); len(q.Users) != 1 || q.Users[0] != b.String() || !q.Sync[b.String()] {
		t.Errorf("queue after the failure: %+v, want b, still a sync's", q)
	}
}

func TestSyncsFailWhenTheEngineCannotWorkOnTheTenantAndStayInIt(t *testing.T) {
	ctx := context.Background()
	st, ten := directoryFixture(t)
	o := syncOp(t, st, ten, nil)
	if err := st.FailSyncOperations(ctx, ten, "consent withdrawn"); err != nil {
		t.Fatal(err)
	}
	if got := status(t, st, o); got.Status != store.OperationFailed || got.Error != "consent withdrawn" || got.StartedAt == nil {
		t.Errorf("%+v", got)
	}
	other, err := st.CreateTenant(ctx, "Fabrikam", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetOperation(ctx, other.ID, o.ID); err != store.ErrOperationNotFound {
		t.Errorf("another tenant reads the operation: %v", err)
	}
}

// TestASyncsMarkOnAReReadLastsUntilAReReadHasBeenForcedForIt: a re-read a
// sync asked for stays a sync's when a notification asks for it again;
// once a re-read has read it as a sync's, an entry left in the queue (asked
// for again meanwhile) is a sync's only if a sync asked again.
func TestASyncsMarkOnAReReadLastsUntilAReReadHasBeenForcedForIt(t *testing.T) {
	ctx := context.Background()
	st, ten := directoryFixture(t)
	m := authorizedMonitor(t, st, ten, "monitor@contoso.example")
	ids := resolved(t, st, ten, &m, "a@contoso.example", "b@contoso.example", "c@contoso.example")
	a, b, c := ids["a@contoso.example"], ids["b@contoso.example"], ids["c@contoso.example"]
	syncOp(t, st, ten, &a)
	syncOp(t, st, ten, &c)
	for _, u := range []uuid.UUID{a, b} {
		if err := st.QueueResync(ctx, ten, u, "basic notification"); err != nil {
			t.Fatal(err)
		}
	}
	q, err := st.PendingResyncs(ctx, ten, 10)
	if err != nil || len(q.Users) != 3 || len(q.Sync) != 2 || !q.Sync[a.String()] || !q.Sync[c.String()] {
		t.Fatalf("pending = %+v, %v; want a and c a sync's, b not", q, err)
	}
	// While Graph is read, a notification asks for a again, a sync for b.
	if err := st.QueueResync(ctx, ten, a, "missed notifications"); err != nil {
		t.Fatal(err)
	}
	syncOp(t, st, ten, &b)
	if err := st.ClearResyncs(ctx, ten, q.Users, q.UpTo); err != nil {
		t.Fatal(err)
	}
	left, err := st.PendingResyncs(ctx, ten, 10)
	if err != nil || len(left.Users) != 2 || len(left.Sync) != 1 || !left.Sync[b.String()] {
		t.Fatalf("left = %+v, %v; want a (no longer a sync's) and b (a sync's)", left, err)
	}
}
