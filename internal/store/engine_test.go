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
		if err := st.QueueResync(ctx, st.Pool(), tenant, u, "basic notification"); err != nil {
			t.Fatal(err)
		}
	}
	users, upTo, err := st.PendingResyncs(ctx, st.Pool(), tenant, 10)
	if err != nil || len(users) != 2 {
		t.Fatalf("pending = %v, %v", users, err)
	}
	// While Graph is being read, b is asked for again.
	if err := st.QueueResync(ctx, st.Pool(), tenant, b, "missed notifications"); err != nil {
		t.Fatal(err)
	}
	if err := st.ClearResyncs(ctx, st.Pool(), tenant, users, upTo); err != nil {
		t.Fatal(err)
	}
	left, _, _ := st.PendingResyncs(ctx, st.Pool(), tenant, 10)
	if len(left) != 1 || left[0] != b.String() {
		t.Fatalf("left in the queue = %v, want only %s", left, b)
	}
}
