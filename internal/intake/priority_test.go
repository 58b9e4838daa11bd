package intake

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/notification"
)

// TestAProcessorTakesNoBatchWhileAnAcknowledgementIsLate: while the
// receiver of its process acknowledges a late POST (Late is a nanosecond
// here), a processor waits before it claims anything — no transaction, no
// connection, no core — and takes the batch once the POST is answered.
func TestAProcessorTakesNoBatchWhileAnAcknowledgementIsLate(t *testing.T) {
	f := newFixture(t)
	prio := NewPriority(PriorityOptions{Late: time.Nanosecond, Hold: time.Hour})
	p := NewProcessor(f.st, ProcessorOptions{Keys: notification.NewKeys(f.key), Tokens: tokens{}, Priority: prio})
	f.inbox(t, "change", f.rich(t, uuid.New(), "Busy", "InACall", "1"))
	leave := prio.Enter()
	type result struct {
		st  Stats
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := p.Drain(t.Context())
		done <- result{st, err}
	}()
	for deadline := time.Now().Add(10 * time.Second); prio.Waiting() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the processor did not wait for the acknowledgement in flight")
		}
	}
	// Not claimed: a claim would hold the row's lock until its commit.
	var free int
	if err := f.pool.QueryRow(t.Context(), `SELECT count(*) FROM (SELECT id FROM inbox FOR UPDATE SKIP LOCKED) r`).Scan(&free); err != nil {
		t.Fatal(err)
	}
	if free != 1 {
		t.Fatalf("%d inbox rows unclaimed while the processor waits, want 1", free)
	}
	leave()
	select {
	case r := <-done:
		if r.err != nil || r.st.Applied != 1 {
			t.Fatalf("once answered: %+v, %v; want the change applied", r.st, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the processor still waits after the acknowledgement")
	}
}

// TestProcessingAdvancesUnderACeaselessFlood: acknowledgements always in
// flight hold each wait to Hold, after which processing has its Slice;
// the inbox is drained, only more slowly.
func TestProcessingAdvancesUnderACeaselessFlood(t *testing.T) {
	f := newFixture(t)
	prio := NewPriority(PriorityOptions{Late: time.Nanosecond, Hold: 5 * time.Millisecond, Slice: 5 * time.Millisecond})
	p := NewProcessor(f.st, ProcessorOptions{Keys: notification.NewKeys(f.key), Tokens: tokens{}, Priority: prio})
	for range 5 {
		f.inbox(t, "change", f.rich(t, uuid.New(), "Busy", "InACall", "1"), f.rich(t, uuid.New(), "Away", "Away", "1"))
	}
	defer prio.Enter()() // never answered while the processor runs
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	st, err := p.Drain(ctx)
	if err != nil || st.Applied != 10 {
		t.Fatalf("%+v, %v; want 10 changes applied", st, err)
	}
}

// yieldReturns reports whether prio's Yield returns within d.
func yieldReturns(prio *Priority, d time.Duration) (returned <-chan struct{}, within bool) {
	done := make(chan struct{})
	go func() { defer close(done); prio.Yield(context.Background()) }()
	select {
	case <-done:
		return done, true
	case <-time.After(d):
		return done, false
	}
}

// TestAnAcknowledgementOnTimeHoldsNothingBack: a POST in flight for less
// than Late (its commit's fsync) does not make processing wait.
func TestAnAcknowledgementOnTimeHoldsNothingBack(t *testing.T) {
	prio := NewPriority(PriorityOptions{Late: time.Hour, Hold: time.Hour})
	defer prio.Enter()()
	if _, ok := yieldReturns(prio, 5*time.Second); !ok {
		t.Fatal("Yield waited for a POST in flight that is not late")
	}
}

// TestALateAcknowledgementHoldsProcessingBackUntilNothingIsInFlight: once
// a POST has been in flight for Late, Yield waits — for it and for every
// POST that came after it — and returns once none is in flight.
func TestALateAcknowledgementHoldsProcessingBackUntilNothingIsInFlight(t *testing.T) {
	prio := NewPriority(PriorityOptions{Late: 50 * time.Millisecond, Hold: time.Hour})
	first := prio.Enter()
	time.Sleep(100 * time.Millisecond)
	second := prio.Enter() // on time
	returned, ok := yieldReturns(prio, 200*time.Millisecond)
	if ok {
		t.Fatal("Yield did not wait for a late POST")
	}
	first()
	select {
	case <-returned:
		t.Fatal("Yield returned while a POST that came during the wait was still in flight")
	case <-time.After(200 * time.Millisecond):
	}
	second()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("Yield still waits with nothing in flight")
	}
	if n := prio.Waiting(); n != 0 {
		t.Fatalf("%d still waiting", n)
	}
}
