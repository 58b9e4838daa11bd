package graphsim

import (
	"slices"
	"time"
)

// NotificationStats counts deliveries since the Sim started.
type NotificationStats struct {
	// Changes is presence changes of users some subscription covered.
	Changes int64 `json:"changes"`
	// Posts is collection POSTs attempted (retries included); Sent the
	// notifications in them, Retried those sent again.
	Posts   int64 `json:"posts"`
	Sent    int64 `json:"sent"`
	Retried int64 `json:"retried"`
	// Delivered notifications got a 2xx in time; LifecycleSent and
	// LifecycleDelivered count the lifecycle notifications among all.
	Delivered          int64 `json:"delivered"`
	LifecycleSent      int64 `json:"lifecycleSent"`
	LifecycleDelivered int64 `json:"lifecycleDelivered"`
	// Dropped notifications will never be delivered: drop faults, dropping
	// endpoints, paused subscriptions, retries past 4 hours (Expired).
	Dropped int64 `json:"dropped"`
	Expired int64 `json:"expiredRetries"`
	// InFlight notifications are in POSTs under way; Queued wait (for a
	// batch, a retry or the end of a slow endpoint's delay).
	InFlight int64 `json:"inFlight"`
	Queued   int64 `json:"queued"`
	// SlowEndpoints and DroppingEndpoints are in that state now.
	SlowEndpoints     int `json:"slowEndpoints"`
	DroppingEndpoints int `json:"droppingEndpoints"`
	// Latency from the presence change to the 2xx, over the last 65,536
	// deliveries, in milliseconds.
	LatencyP50 float64 `json:"latencyP50Ms"`
	LatencyP95 float64 `json:"latencyP95Ms"`
	LatencyP99 float64 `json:"latencyP99Ms"`
	// ValidationRequests were sent to endpoints; ValidationFailures failed.
	ValidationRequests int64 `json:"validationRequests"`
	ValidationFailures int64 `json:"validationFailures"`
	Subscriptions      int   `json:"subscriptions"`
}

// NotificationStats reports delivery counters and latency percentiles.
func (s *Sim) NotificationStats() NotificationStats {
	n := s.notify
	subs := len(n.subs.all())
	now := s.clock()
	n.inMu.Lock()
	pending := len(n.inbox)
	n.inMu.Unlock()
	n.mu.Lock()
	out := n.stats
	out.Queued = int64(pending)
	for _, ep := range n.endpoints {
		out.InFlight += int64(ep.inflightItems)
		out.Queued += int64(ep.waiting())
		switch ep.modeAt(now) {
		case modeSlow:
			out.SlowEndpoints++
		case modeDrop:
			out.DroppingEndpoints++
		}
	}
	lat := n.latency.snapshot()
	n.mu.Unlock()
	out.Subscriptions = subs
	if len(lat) > 0 {
		slices.Sort(lat)
		pick := func(q float64) float64 {
			return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond)
		}
		out.LatencyP50, out.LatencyP95, out.LatencyP99 = pick(0.50), pick(0.95), pick(0.99)
	}
	return out
}

func (n *notifier) count(fn func(*NotificationStats)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	fn(&n.stats)
}

// latencyRing keeps the most recent delivery latencies.
type latencyRing struct {
	buf  []time.Duration
	next int
}

const latencyRingSize = 1 << 16

func (l *latencyRing) add(d time.Duration) {
	if len(l.buf) < latencyRingSize {
		l.buf = append(l.buf, d)
		return
	}
	l.buf[l.next] = d
	l.next = (l.next + 1) % latencyRingSize
}

func (l *latencyRing) snapshot() []time.Duration { return slices.Clone(l.buf) }
