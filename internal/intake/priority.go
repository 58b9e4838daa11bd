package intake

import (
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
// processors, before each batch and each unwrap, wait while any is in
// flight (Yield). Lest a ceaseless flood stop processing for good, a wait
// lasts at most Hold, and then processing has Slice without waiting: at
// the defaults it keeps at least a sixth of its time.
//
// Only one process is ordered so: a worker process on the same cores as a
// web process does not see its POSTs (docs/scale-out.md says what to do).
// A nil *Priority orders nothing.
type Priority struct {
	hold, slice time.Duration

	mu       sync.Mutex
	inFlight int
	idle     chan struct{} // closed once inFlight is 0
	until    time.Time     // processing waits for nothing until then
	waiting  int
}

// Priority's defaults: a POST the processors wait for is answered in a
// few milliseconds (its commit's fsync), so Hold is rarely reached, and
// when it is (a flood) processing advances in slices.
const (
	DefaultHold  = 50 * time.Millisecond
	DefaultSlice = 10 * time.Millisecond
)

// NewPriority returns a Priority whose waits last at most hold, followed
// by slice without waiting (defaults DefaultHold, DefaultSlice).
func NewPriority(hold, slice time.Duration) *Priority {
	if hold <= 0 {
		hold = DefaultHold
	}
	if slice <= 0 {
		slice = DefaultSlice
	}
	idle := make(chan struct{})
	close(idle)
	return &Priority{hold: hold, slice: slice, idle: idle}
}

// Enter marks a POST in flight until the returned function is called.
func (p *Priority) Enter() (leave func()) {
	if p == nil {
		return func() {}
	}
	p.mu.Lock()
	if p.inFlight == 0 {
		p.idle = make(chan struct{})
	}
	p.inFlight++
	p.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			if p.inFlight--; p.inFlight == 0 {
				close(p.idle)
			}
			p.mu.Unlock()
		})
	}
}

// Yield returns once no POST is in flight, Hold has passed, or ctx ends.
func (p *Priority) Yield(ctx context.Context) {
	if p == nil {
		return
	}
	p.mu.Lock()
	idle := p.idle
	if p.inFlight == 0 || time.Now().Before(p.until) {
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

// Waiting is how many callers of Yield wait now.
func (p *Priority) Waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waiting
}
