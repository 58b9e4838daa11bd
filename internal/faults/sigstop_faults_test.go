//go:build faults

package faults

import (
	"net/http"
	"syscall"
	"testing"
	"time"
)

// A worker freezes (SIGSTOP: a VM paused, a process stuck in the kernel)
// while it holds tenant locks and delivery leases, with webhooks in
// flight, for longer than a lease (30 s), and then runs on (SIGCONT). The
// other worker takes over what the leases held once they run out; the
// frozen one, back, must not send what it claimed before (a stale copy
// after the user's next event) nor record outcomes of claims it lost.
// Nothing acknowledged is lost; each user's webhooks stay in order.
func TestFrozenWorkerHoldingLeasesBreaksNeitherOrderNorLedger(t *testing.T) {
	s := sized()
	w := Start(t, Options{Users: s.users, Split: true, Workers: 2})
	// Answers of 50 ms keep deliveries claimed and in flight when it
	// freezes, and leave the other worker alone room for the traffic (4
	// at a time: 80 a second).
	w.Receiver.SetAnswer(func(Arrival) Answer { return Answer{Status: http.StatusNoContent, Delay: 50 * time.Millisecond} })
	tr := w.Drive(s.rate)
	time.Sleep(s.load)
	frozen := w.Proc("worker-1")
	if err := frozen.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Log("SIGSTOP worker-1")
	time.Sleep(35 * time.Second) // past the 30 s lease
	if err := frozen.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	t.Log("SIGCONT worker-1")
	time.Sleep(s.load)
	t.Logf("%d presence changes", tr.Stop())
	w.Check(w.Settle(90*time.Second), Expect{Overtaken: true})
	w.StillRunning(t, "worker-1")
}
