package faults

import (
	"os"
	"testing"
	"time"
)

// Each scenario runs short by default (a few seconds of traffic) and long
// with PB_FAULTS_FULL=1 (make faults). make test runs the short form of
// the scenarios in files without a build tag (the baseline and one SIGKILL
// of the web role); the others are behind the faults build tag, which make
// faults sets.

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

// (a) No fault: the ledger of an ordinary day, and the suite's baseline.
func TestBaselineDeliversEveryAcknowledgedNotificationInOrder(t *testing.T) {
	s := sized()
	w := Start(t, Options{Users: s.users})
	n := w.For(s.rate, 2*s.load)
	t.Logf("%d presence changes", n)
	w.Check(w.Settle(30*time.Second), Expect{})
}
