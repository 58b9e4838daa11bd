package graphsim

import "time"

// endpoint is the delivery state of one notification URL: what waits,
// what is in flight, and how slow it has been (docs/graph.md#delivery-and-acknowledgement).
type deliveryEndpoint struct {
	url           string
	queue         []*deliveryItem  // ready to be batched
	ready         []*deliveryBatch // retries that are due
	retries       []*deliveryBatch // retries waiting for their time
	held          []heldItem       // delayed while the endpoint is slow, or by a delay fault; by due
	overtake      *heldItem        // waiting for the next notification to overtake it (a reorder fault)
	inflight      int
	inflightItems int

	// The slow-endpoint window: responses in the current 10 minutes.
	windowStart   time.Time
	responses     int
	over3, over10 int
	mode          endpointMode
	modeUntil     time.Time
}

type heldItem struct {
	due time.Time
	it  *deliveryItem
}

type endpointMode int

const (
	modeNormal endpointMode = iota
	modeSlow                // new notifications are sent 10 minutes late
	modeDrop                // new notifications are dropped
)

func (m endpointMode) String() string {
	switch m {
	case modeSlow:
		return "slow"
	case modeDrop:
		return "drop"
	}
	return "normal"
}

// modeAt is the endpoint's state at now; a penalty lasts 10 minutes and
// is then judged again on fresh responses.
func (ep *deliveryEndpoint) modeAt(now time.Time) endpointMode {
	if ep.mode != modeNormal && !now.Before(ep.modeUntil) {
		ep.mode = modeNormal
	}
	return ep.mode
}

// record counts one response of took (real time plus injected latency)
// and marks the endpoint slow (> 10 % over 3 s) or dropping (> 15 % over
// the 10-second retry timeout) for 10 minutes.
func (ep *deliveryEndpoint) record(now time.Time, took time.Duration, retry bool) {
	if ep.windowStart.IsZero() || now.Sub(ep.windowStart) >= slowWindow {
		ep.windowStart, ep.responses, ep.over3, ep.over10 = now, 0, 0, 0
	}
	ep.responses++
	if took > deliveryTimeout {
		ep.over3++
	}
	if retry && took > retryTimeout {
		ep.over10++
	}
	if ep.responses < slowMinResponses || ep.modeAt(now) == modeDrop {
		return
	}
	total := float64(ep.responses)
	switch {
	case float64(ep.over10)/total > dropShare:
		ep.mode, ep.modeUntil = modeDrop, now.Add(slowPenalty)
	case ep.mode == modeNormal && float64(ep.over3)/total > slowShare:
		ep.mode, ep.modeUntil = modeSlow, now.Add(slowPenalty)
	}
}

// releaseDueLocked moves due retries and delayed notifications back into
// the queue; while the endpoint drops, they are lost.
func (ep *deliveryEndpoint) releaseDueLocked(n *notifier, now time.Time) {
	dropping := ep.modeAt(now) == modeDrop
	keep := ep.retries[:0]
	for _, b := range ep.retries {
		switch {
		case now.Before(b.due):
			keep = append(keep, b)
		case dropping:
			n.stats.Dropped += int64(len(b.items))
			n.journal.dropped("endpoint", b.items...)
		default:
			ep.ready = append(ep.ready, b)
		}
	}
	clear(ep.retries[len(keep):])
	ep.retries = keep
	i := 0
	for ; i < len(ep.held) && !now.Before(ep.held[i].due); i++ {
		if dropping {
			n.stats.Dropped++
			n.journal.dropped("endpoint", ep.held[i].it)
			continue
		}
		ep.queue = append(ep.queue, ep.held[i].it)
	}
	if i > 0 {
		ep.held = append([]heldItem(nil), ep.held[i:]...)
	}
	if o := ep.overtake; o != nil && !now.Before(o.due) {
		ep.overtake = nil
		if dropping {
			n.stats.Dropped++
			n.journal.dropped("endpoint", o.it)
		} else {
			ep.queue = append(ep.queue, o.it)
		}
	}
}

// waiting counts the notifications queued, held or waiting for a retry.
func (ep *deliveryEndpoint) waiting() int {
	n := len(ep.queue) + len(ep.held)
	if ep.overtake != nil {
		n++
	}
	for _, b := range ep.ready {
		n += len(b.items)
	}
	for _, b := range ep.retries {
		n += len(b.items)
	}
	return n
}

// ForgiveEndpoints ends every endpoint's slow or dropping penalty now and
// forgets the responses it was judged on, as if its 10 minutes had
// passed: what an endpoint's slowness held (and a delay fault's held
// notifications with it) comes due at once. It returns how many endpoints
// were penalised. Graph has no such call; a load run uses it between two
// deployments it measures on the same graphsim, so that the second is not
// judged on the first's answers (internal/loadbench).
func (s *Sim) ForgiveEndpoints() int {
	n := s.notify
	now := s.clock()
	n.mu.Lock()
	forgiven := 0
	for _, ep := range n.endpoints {
		if ep.modeAt(now) != modeNormal {
			forgiven++
		}
		ep.mode, ep.modeUntil = modeNormal, time.Time{}
		ep.windowStart, ep.responses, ep.over3, ep.over10 = time.Time{}, 0, 0, 0
		for i := range ep.held { // by due: those after now all become now, still in order
			if ep.held[i].due.After(now) {
				ep.held[i].due = now
			}
		}
	}
	n.mu.Unlock()
	s.TickNotifications()
	return forgiven
}
