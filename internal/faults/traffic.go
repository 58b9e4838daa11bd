package faults

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// states are what the traffic moves users between. None is talking, so
// the tenant's debounce (which holds a change that leaves talking) never
// holds one back: each change is one event, at once, and the ledger can
// follow every notification to its webhook.
var states = [][2]string{{"Available", "Available"}, {"Busy", "Busy"}, {"Away", "Away"}, {"DoNotDisturb", "DoNotDisturb"}}

// Traffic changes the users' presence in graphsim at a steady rate, round
// robin, each change different from the user's last: what a contact
// centre's day looks like to Graph.
type Traffic struct {
	w       *World
	changes atomic.Int64
	failed  atomic.Int64
	cancel  context.CancelFunc
	done    sync.WaitGroup
	next    []int      // per user: the index of its next state
	gate    sync.Mutex // held by each change, and by Pause until Resume
}

// Drive starts traffic at rate changes a second over all users until
// Stop.
func (w *World) Drive(rate float64) *Traffic {
	ctx, cancel := context.WithCancel(context.Background())
	tr := &Traffic{w: w, cancel: cancel, next: make([]int, len(w.Users))}
	for i := range tr.next {
		tr.next[i] = i % len(states)
	}
	tr.done.Go(func() { tr.run(ctx, rate) })
	return tr
}

func (tr *Traffic) run(ctx context.Context, rate float64) {
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		u := i % len(tr.w.Users)
		s := states[tr.next[u]]
		tr.next[u] = (tr.next[u] + 1) % len(states)
		tr.gate.Lock()
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := tr.w.Graph.SetPresence(cctx, tr.w.Users[u].ID, s[0], s[1])
		cancel()
		tr.gate.Unlock()
		if err != nil && ctx.Err() == nil {
			tr.failed.Add(1)
			continue
		}
		tr.changes.Add(1)
	}
}

// Pause holds the traffic, once the change under way is made, until
// Resume: the changes a pause skips are not made up.
func (tr *Traffic) Pause() { tr.gate.Lock() }

// Resume lets paused traffic go on.
func (tr *Traffic) Resume() { tr.gate.Unlock() }

// Changes is how many presence changes were made so far.
func (tr *Traffic) Changes() int64 { return tr.changes.Load() }

// Stop ends the traffic and returns how many changes were made. A change
// graphsim refused fails the test: the scenario would be measuring less
// than it says.
func (tr *Traffic) Stop() int64 {
	tr.cancel()
	tr.done.Wait()
	if n := tr.failed.Load(); n > 0 {
		tr.w.T.Errorf("faults: graphsim refused %d presence changes", n)
	}
	return tr.changes.Load()
}

// For drives traffic at rate for d and stops it.
func (w *World) For(rate float64, d time.Duration) int64 {
	tr := w.Drive(rate)
	time.Sleep(d)
	return tr.Stop()
}
