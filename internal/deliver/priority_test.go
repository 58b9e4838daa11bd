package deliver

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/intake"
)

// TestADelivererClaimsNothingWhileAnAcknowledgementIsLate: while the
// receiver of its process acknowledges a late POST of Graph's (Late is a
// nanosecond here), the deliverer waits before it claims
// (intake.Priority), and sends once it is answered.
func TestADelivererClaimsNothingWhileAnAcknowledgementIsLate(t *testing.T) {
	f := newFixture(t)
	r := newReceiver(t, nil)
	f.endpoint(t, f.tenant, r)
	f.change(t, f.tenant, uuid.New(), "Busy", "InACall", "talking")
	prio := intake.NewPriority(intake.PriorityOptions{Late: time.Nanosecond, Hold: time.Hour})
	leave := prio.Enter()
	d := New(f.st, Options{AllowPrivate: true, Priority: prio})
	var n int
	var err error
	done := make(chan struct{})
	go func() { defer close(done); n, err = d.RunOnce(context.Background()) }()
	for deadline := time.Now().Add(10 * time.Second); prio.Waiting() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the deliverer did not wait for the acknowledgement in flight")
		}
	}
	var claimed int
	if err := f.pool.QueryRow(t.Context(), `SELECT count(*) FROM deliveries WHERE status <> 'pending' OR leased_until IS NOT NULL`).Scan(&claimed); err != nil {
		t.Fatal(err)
	}
	if claimed != 0 || len(r.all()) != 0 {
		t.Fatalf("while it waits: %d deliveries claimed or done, %d sent; want none", claimed, len(r.all()))
	}
	leave()
	select {
	case <-done:
		if err != nil || n != 1 || len(r.all()) != 1 {
			t.Fatalf("once answered: %d claimed (%v), %d sent; want 1 sent", n, err, len(r.all()))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the deliverer still waits after the acknowledgement")
	}
}
