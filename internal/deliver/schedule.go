package deliver

import (
	"math/rand/v2"
	"time"
)

// DefaultSchedule is when attempts happen, counted from the delivery's
// start (its event, or its replay): at once, then after 1, 2, 4, 8, 15 and
// 30 s, 1, 2, 5, 10 and 30 min, 1, 2 and 4 h, then every 4 h to 24 h; a
// delivery still failing then is dead (kept, replayable).
//
// Presence is only worth something while it is current, so the first
// retries are seconds apart: a receiver that blinks for a few seconds gets
// a user's state a few seconds late, not minutes. The schedule is counted
// in time, not in attempts, because a failing endpoint is also probed
// (see circuit.go) and "retry now" adds attempts: neither may shorten the
// ~24 h a delivery is kept trying. Once a newer state of the same user
// waits, the older delivery is superseded rather than retried further
// (store.SupersedeBehindFailures), so the long tail of the schedule only
// matters for a user's last state.
var DefaultSchedule = []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second,
	30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour,
	2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 12 * time.Hour, 16 * time.Hour, 20 * time.Hour, 24 * time.Hour}

// next is when a delivery that started at start and failed at now is
// tried again: the schedule's next point after now, up to 20 % of the gap
// before it later (jitter, so that the deliveries of an outage do not all
// return at the same instant), and not before the receiver's Retry-After.
// Zero: the schedule is spent, the delivery is dead.
func next(schedule []time.Duration, start, now time.Time, retryAfter time.Duration) time.Time {
	elapsed := now.Sub(start)
	for i, at := range schedule {
		if at <= elapsed {
			continue
		}
		gap := at
		if i > 0 {
			gap -= schedule[i-1]
		}
		t := start.Add(at + time.Duration(rand.Int64N(int64(gap/5)+1)))
		return later(t, now.Add(retryAfter))
	}
	return time.Time{}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
