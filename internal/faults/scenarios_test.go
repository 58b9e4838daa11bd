package faults

import (
	"os"
	"testing"
	"time"
)

// Each scenario runs short by default (a few seconds of traffic, for make
// test) and long with PB_FAULTS_FULL=1 (make faults). Scenarios whose
// fault cannot be made short (a lease that must run out) run only in the
// full form; FAULTS.md says which.

// full reports whether the long form runs.
func full() bool { return os.Getenv("PB_FAULTS_FULL") == "1" }

// size is the users and traffic of a scenario: short, or full.
type size struct {
	users int
	rate  float64       // presence changes a second
	load  time.Duration // how long each phase of traffic lasts
}

func sized() size {
	if full() {
		return size{users: 25, rate: 40, load: 20 * time.Second}
	}
	return size{users: 8, rate: 20, load: 2 * time.Second}
}

// needFull fails a scenario that has no short form when run short
// without PB_FAULTS_FULL: it is left out of make test by name instead
// (see the Makefile), never skipped.
func needFull(t *testing.T) {
	t.Helper()
	if !full() {
		t.Fatal("this scenario has only a full form: run it with PB_FAULTS_FULL=1 (make faults)")
	}
}

// (a) No fault: the ledger of an ordinary day, and the suite's baseline.
func TestBaselineDeliversEveryAcknowledgedNotificationInOrder(t *testing.T) {
	s := sized()
	w := Start(t, Options{Users: s.users})
	n := w.For(s.rate, 2*s.load)
	t.Logf("%d presence changes", n)
	w.Check(w.Settle(30*time.Second), Expect{})
}
