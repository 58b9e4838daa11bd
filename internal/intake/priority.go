package intake

import (
	"cmp"
	"context"
	"sync"
	"time"
)

// Priority gives the receiver's acknowledgements precedence over
// processing in one process. Go has no goroutine or thread priorities:
// GOMAXPROCS's cores go round every runnable goroutine alike, so while the
// processors unwrap keys on every core (a quarter of a millisecond each,
// issue 16) a POST's goroutine waits its turn behind them, and the
// PostgreSQL backends and the answer's writes wait with it. At 5,000
// changes/s on 2 cores — more than they can decrypt — graphsim measured
// acknowledgements' p99 at 1.2–2.2 s, and Graph marks a URL slow when more
// than 10 % of its POSTs take over 3 s (docs/scale-out.md). The inbox is
// durable, so processing may lag; acknowledging may not.
//
// So the receiver marks each POST of Graph's it serves (Enter), and the
// processors, before each batch and each unwrap, wait while one is late
// — in flight for over Late — until none is in flight (Yield). Lest a
// ceaseless flood stop processing for good, a wait lasts at most Hold,
// and then processing has Slice without waiting: at the defaults it keeps
// at least a sixth of its time.
//
// Only a late POST holds processing back: a POST answered in its
// commit's time needs no precedence, and holding processing back behind
// every POST in flight cost more than it gave at 1,000 changes/s. In the
// load run at 100,000 users (a POST in flight most of the time), waiting
// on any POST in flight gave end-to-end p99 580–826 ms in three runs on
// the idle host, 318–528 ms without the priority (acknowledgements' p99
// 53–66 ms against 88–134 ms): processing waited behind POSTs that only
// waited on their fsync.
//
// Only one process is ordered so: a worker process on the same cores as a
// web process does not see its POSTs (docs/scale-out.md says what to do).
// A nil *Priority orders nothing.
type Priority struct {
	late, hold, slice time.Duration

	mu      sync.Mutex
	flights map[uint64]time.Time // POSTs in flight: when each began
	next    uint64
	idle    chan struct{} // closed once nothing is in flight
	until   time.Time     // processing waits for nothing until then
	waiting int
}

// Priority's defaults: a POST on time is answered within its commit's
// fsync, a few milliseconds (acknowledgements' p50 4–5 ms at 1,000
// changes/s), so one in flight for 20 ms waits for a core; the POSTs the
// processors then wait for are answered in a few milliseconds more, so
// Hold is rarely reached, and when it is (a flood) processing advances in
// slices.
const (
	DefaultLate  = 20 * time.Millisecond
	DefaultHold  = 50 * time.Millisecond
	DefaultSlice = 10 * time.Millisecond
)

// PriorityOptions tune a Priority; zero fields take the defaults.
type PriorityOptions struct {
	// Late is how long a POST is in flight before processing waits for
	// it (and for every other POST in flight then).
	Late time.Duration
	// Hold bounds one wait; Slice is processing's time without waiting
	// after a wait that reached Hold.
	Hold, Slice time.Duration
}

// NewPriority returns a Priority with opts.
func NewPriority(opts PriorityOptions) *Priority {
	idle := make(chan struct{})
	close(idle)
	return &Priority{late: cmp.Or(opts.Late, DefaultLate), hold: cmp.Or(opts.Hold, DefaultHold),
		slice: cmp.Or(opts.Slice, DefaultSlice), flights: map[uint64]time.Time{}, idle: idle}
}

// Enter marks a POST in flight until the returned function is called.
func (p *Priority) Enter() (leave func()) {
	if p == nil {
		return func() {}
	}
	p.mu.Lock()
	if len(p.flights) == 0 {
		p.idle = make(chan struct{})
	}
	p.next++
	id := p.next
	p.flights[id] = time.Now()
	p.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			delete(p.flights, id)
			if len(p.flights) == 0 {
				close(p.idle)
			}
			p.mu.Unlock()
		})
	}
}

// Yield returns at once unless a POST is late; then once none is in
// flight, Hold has passed, or ctx ends.
func (p *Priority) Yield(ctx context.Context) {
	if p == nil {
		return
	}
	p.mu.Lock()
	idle := p.idle
	if now := time.Now(); now.Before(p.until) || !p.lateLocked(now) {
		p.mu.Unlock()
		return
	}
	p.waiting++
	p.mu.Unlock()
	t := time.NewTimer(p.hold)
	defer t.Stop()
	select {
	case <-idle:
	case <-ctx.Done():
	case <-t.C:
		p.mu.Lock()
		p.until = time.Now().Add(p.slice)
		p.mu.Unlock()
	}
	p.mu.Lock()
	p.waiting--
	p.mu.Unlock()
}

// lateLocked reports whether a POST in flight began over Late before now.
// The POSTs in flight are at most the receiver's MaxRequests.
func (p *Priority) lateLocked(now time.Time) bool {
	for _, began := range p.flights {
		if now.Sub(began) > p.late {
			return true
		}
	}
	return false
}

// Waiting is how many callers of Yield wait now.
func (p *Priority) Waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waiting
}
