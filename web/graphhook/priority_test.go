package graphhook

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"presencebridge/internal/intake"
)

// holdsProcessingBack commits through Committer and, before it does, asks
// a processor's question of prio: a Yield that waits until the answer
// (Hold is an hour) shows the POST in flight then.
type holdsProcessingBack struct {
	Committer
	prio    *intake.Priority
	waited  chan bool     // whether a Yield waited while the row was committed
	yielded chan struct{} // closed once that Yield returned
}

func (h *holdsProcessingBack) Commit(ctx context.Context, row intake.Row) error {
	yielded := make(chan struct{})
	go func() { defer close(yielded); h.prio.Yield(context.Background()) }()
	waited := false
	for deadline := time.Now().Add(5 * time.Second); !waited && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		select {
		case <-yielded: // it did not wait: nothing in flight
			deadline = time.Time{}
		default:
			waited = h.prio.Waiting() == 1
		}
	}
	h.waited <- waited
	h.yielded = yielded
	return h.Committer.Commit(ctx, row)
}

// TestAPostOfGraphsHoldsProcessingBackUntilItIsAnswered: while a late
// POST of Graph's (Late is a nanosecond here) is being committed, a
// processor of the same process waits before its next batch or unwrap
// (intake.Priority), and goes on once the POST is answered.
func TestAPostOfGraphsHoldsProcessingBackUntilItIsAnswered(t *testing.T) {
	prio := intake.NewPriority(intake.PriorityOptions{Late: time.Nanosecond, Hold: time.Hour})
	var hold *holdsProcessingBack
	f := newFixture(t, func(d *Deps) {
		hold = &holdsProcessingBack{Committer: d.Committer, prio: prio, waited: make(chan bool, 1)}
		d.Committer, d.Priority = hold, prio
	})
	code, body := f.post(t, "/graph/notifications", fmt.Sprintf(`{"value":[%s]}`, item("sub-1", "state-1", "u1")))
	if code != http.StatusAccepted {
		t.Fatalf("status %d (%s), want 202", code, body)
	}
	if !<-hold.waited {
		t.Fatal("a processor's Yield did not wait while the POST was committed")
	}
	select {
	case <-hold.yielded:
	case <-time.After(5 * time.Second):
		t.Fatal("the processor still waits after the POST was answered")
	}
	if rows, _, _ := f.inbox(t); rows != 1 {
		t.Errorf("inbox holds %d rows, want 1", rows)
	}
}
