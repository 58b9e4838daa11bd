package graphsim

import (
	"sort"
	"time"
)

// Delivery out of order and more than once, on demand (NotificationFault's
// Delay, Reorder and Duplicate): what a subscriber of an at-least-once
// service must survive, which graphsim otherwise never does.

// reorderWait is how long a notification to be overtaken waits for one
// to overtake it before it is sent anyway.
const reorderWait = time.Second

// disorderLocked applies delay and reorder faults to it, about to be
// queued for ep; it reports whether it kept it back.
func (n *notifier) disorderLocked(ep *deliveryEndpoint, it *deliveryItem, now time.Time) bool {
	if f := n.faultWithLocked(ep.url, it.sub.id, nil, func(f *NotificationFault) bool { return f.Delay > 0 }); f != nil {
		f.Delay--
		delay := time.Duration(f.DelayMS) * time.Millisecond
		n.spendLocked(f)
		ep.hold(heldItem{due: now.Add(delay), it: it})
		return true
	}
	if ep.overtake != nil {
		return false // one at a time: this one overtakes it
	}
	if f := n.faultWithLocked(ep.url, it.sub.id, nil, func(f *NotificationFault) bool { return f.Reorder > 0 }); f != nil {
		f.Reorder--
		n.spendLocked(f)
		ep.overtake = &heldItem{due: now.Add(reorderWait), it: it}
		return true
	}
	return false
}

// releaseOvertaken queues the notification kept back for a reorder fault
// once another, it, has been queued ahead of it.
func (ep *deliveryEndpoint) releaseOvertaken(it *deliveryItem) {
	if ep.overtake != nil && ep.overtake.it != it {
		ep.queue = append(ep.queue, ep.overtake.it)
		ep.overtake = nil
	}
}

// hold keeps h until its due time, the held list sorted by it (a slow
// endpoint's 10 minutes and a delay fault's own delay mix).
func (ep *deliveryEndpoint) hold(h heldItem) {
	i := sort.Search(len(ep.held), func(i int) bool { return h.due.Before(ep.held[i].due) })
	ep.held = append(ep.held, heldItem{})
	copy(ep.held[i+1:], ep.held[i:])
	ep.held[i] = h
}

// duplicateLocked sends b, just acknowledged, once more when a duplicate
// fault asks: the same body, as Graph's own retry of a POST whose answer
// it missed would be.
func (n *notifier) duplicateLocked(ep *deliveryEndpoint, b *deliveryBatch, now time.Time) {
	f := n.faultWithLocked(ep.url, "", b, func(f *NotificationFault) bool { return f.Duplicate > 0 })
	if f == nil {
		return
	}
	f.Duplicate--
	n.spendLocked(f)
	ep.ready = append(ep.ready, &deliveryBatch{items: b.items, body: b.body, first: now})
}
