package deliver

import (
	"context"
	"time"

	"presencebridge/internal/store"
)

// success is a delivered delivery whose record is queued.
type success struct {
	id     int64
	lease  time.Time // the claim's: see store.DeliveriesSucceeded
	status int
}

// recorder group-commits successes: while one statement marks a batch
// delivered, the next batch gathers, so at a thousand webhooks a second
// the outbox costs a few commits (each an fsync) a second, not one per
// webhook. Until its record commits a delivery stays leased; a crash in
// between only sends it again (at least once).
//
// A batch also waits, up to wait (gatherWait), for the sends still on the wire
// (sending): a claim's deliveries finish a fraction of a millisecond
// apart, and recording the first alone cost a statement — planned and
// executed, ~0.6 ms of the database's CPU — for each one or two
// deliveries. Only a user's next delivery waits for the record (it may
// not be claimed before), so the wait is short.
type recorder struct {
	record  func(ctx context.Context, ids []int64, leases []time.Time, statuses []int32) (bool, error)
	sending func() bool // a claimed delivery is still being sent
	wait    time.Duration
	in      chan success
	next    chan<- struct{} // a recorded delivery has a successor to claim
	stopped chan struct{}
	onError func(error, int)
}

// gatherWait bounds how long a success waits for the sends still on the
// wire before it is recorded.
const gatherWait = 3 * time.Millisecond

func newRecorder(st *store.Store, sending func() bool, next chan<- struct{}, onError func(error, int)) *recorder {
	return &recorder{record: st.DeliveriesSucceeded, sending: sending, wait: gatherWait, in: make(chan success, 1024), next: next,
		stopped: make(chan struct{}), onError: onError}
}

// run records until in is closed and drained.
func (r *recorder) run(ctx context.Context) {
	defer close(r.stopped)
	// Records must land even while the deliverer stops.
	ctx = context.WithoutCancel(ctx)
	ids := make([]int64, 0, cap(r.in))
	leases := make([]time.Time, 0, cap(r.in))
	statuses := make([]int32, 0, cap(r.in))
	wait := time.NewTimer(0)
	for s := range r.in {
		ids, leases, statuses = append(ids[:0], s.id), append(leases[:0], s.lease), append(statuses[:0], int32(s.status))
		wait.Reset(r.wait)
	gather:
		for len(ids) < cap(r.in) {
			var s success
			var ok bool
			select {
			case s, ok = <-r.in:
			default:
				if !r.sending() {
					break gather // nothing more is coming soon
				}
				select {
				case s, ok = <-r.in:
				case <-wait.C:
					break gather
				}
			}
			if !ok {
				break gather
			}
			ids, leases, statuses = append(ids, s.id), append(leases, s.lease), append(statuses, int32(s.status))
		}
		wait.Stop()
		r.flush(ctx, ids, leases, statuses)
	}
}

func (r *recorder) flush(ctx context.Context, ids []int64, leases []time.Time, statuses []int32) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	more, err := r.record(ctx, ids, leases, statuses)
	if err != nil {
		r.onError(err, len(ids))
		return
	}
	if more {
		select {
		case r.next <- struct{}{}:
		default:
		}
	}
}

// stop records what is queued and returns when it is.
func (r *recorder) stop() {
	close(r.in)
	<-r.stopped
}
