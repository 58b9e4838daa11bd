//go:build faults

package faults

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// (c) A worker is SIGKILLed after the platform answered a webhook and
// before the worker recorded it: the worker's database is held just
// before the receiver answers 204, so the outcome cannot be written, and
// the kill follows. The delivery stays leased until its lease runs out
// (twice the 15 s request timeout: this scenario takes that long), then
// goes again under the same webhook-id — a duplicate the platform
// recognises — or is superseded by the user's newer state; the user's
// later webhooks wait behind it, in order; nothing is lost.
func TestWorkerKilledAfterTheDownstreamAnsweredSendsAgainUnderTheSameID(t *testing.T) {
	s := sized()
	w := Start(t, Options{Users: s.users, Split: true})
	db, err := w.PG.Proxy("worker-1")
	if err != nil {
		t.Fatal(err)
	}
	answered := make(chan Arrival, 1)
	var once sync.Once
	w.Receiver.SetAnswer(func(a Arrival) Answer {
		once.Do(func() {
			db.HoldRequests() // before the 204 leaves: the worker cannot record it
			answered <- a
		})
		return Answer{Status: http.StatusNoContent}
	})
	tr := w.Drive(s.rate)
	var victim Arrival
	select {
	case victim = <-answered:
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook arrived")
	}
	time.Sleep(300 * time.Millisecond) // the 204 reaches the worker, which tries to record it
	w.Kill("worker-1")
	db.Cut()
	db.ReleaseRequests()
	db.Restore()
	w.StartRole("worker-1")
	time.Sleep(s.load)
	t.Logf("%d presence changes", tr.Stop())
	w.Check(w.Settle(90*time.Second), Expect{Overtaken: true})
	again := 0
	for _, a := range w.Receiver.Arrivals() {
		if a.WebhookID == victim.WebhookID && a.N != victim.N {
			again++
		}
	}
	t.Logf("the webhook answered before the kill (user %s sequence %d) arrived %d more time(s) under its id", victim.User, victim.Sequence, again)
}
