package deliver

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
)

// While an endpoint's circuit is open, every user's newest state
// supersedes their older ones — not only the user whose delivery the
// probe happened to try. The probe takes the head with the newest event,
// which after one user's states are superseded is that user's newest
// again; before, every other user kept their whole backlog, and when the
// platform came back after 2 hours (FAULTS.md, scenario (j): 20 of 25
// users, 5,000 states) it got each of those states in order before the
// newest, which arrived 30 s after its return.
func TestWhileAnEndpointIsDownEveryUsersOlderStatesAreSupersededNotOnlyTheProbedOnes(t *testing.T) {
	f := newFixture(t)
	r := newSwitchable(t)
	f.endpoint(t, f.tenant, r.receiver)
	d := New(f.st, Options{AllowPrivate: true, BreakAfter: 1, Cooldown: 20 * time.Millisecond, MaxCooldown: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx, 50*time.Millisecond) }()
	defer func() { cancel(); <-done }()

	first := uuid.New()
	f.change(t, f.tenant, first, "Busy", "InACall", "talking") // fails: the circuit opens
	for deadline := time.Now().Add(10 * time.Second); len(d.skipped()) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the endpoint's circuit did not open")
		}
	}
	users := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	for _, act := range []string{"InACall", "Available", "InAMeeting"} {
		for _, u := range users {
			f.change(t, f.tenant, u, "Busy", act, "talking")
		}
	}
	time.Sleep(time.Second) // a score of probes, every 20–50 ms

	back := r.up()
	newest := func() bool { // each user's sequence 3 answered 2xx
		got := r.all()
		r.mu.Lock()
		defer r.mu.Unlock()
		seen := map[uuid.UUID]bool{}
		for i, g := range got {
			if i < len(r.ok) && r.ok[i] && g.event.Data.Sequence == 3 {
				seen[g.event.Data.User.ObjectID] = true
			}
		}
		return len(seen) == len(users)
	}
	for deadline := time.Now().Add(10 * time.Second); !newest(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the users' newest states did not all arrive within 10 s of the endpoint's return")
		}
	}
	got := r.all()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, g := range got {
		if i < len(r.ok) && r.ok[i] && !r.at[i].Before(back) && g.event.Data.User.ObjectID != first && g.event.Data.Sequence != 3 {
			t.Errorf("after the endpoint's return, user %s's older state (sequence %d) was sent: it should have been superseded by their newest",
				g.event.Data.User.ObjectID, g.event.Data.Sequence)
		}
	}
}
