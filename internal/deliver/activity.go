package deliver

import (
	"time"

	"presencebridge/internal/store"
)

// measure tells Options.Activity an attempt's outcome, and a delivered
// one's latency: from the moment the change was ready to go (ready) to
// the endpoint's answer.
func (d *Deliverer) measure(dl store.Delivery, ok bool) {
	if d.opts.Activity == nil {
		return
	}
	now := time.Now()
	if !ok {
		d.opts.Activity.Failed(dl.TenantID, now)
		return
	}
	d.opts.Activity.Delivered(dl.TenantID, now, now.Sub(ready(dl)))
}

// ready is when a delivery's change was ready to go: when Graph's
// notification reached us (or the re-read that found the change was
// made), shifted by whatever passed between the event's record and the
// delivery's making — a debounce hold, which delays a change on purpose,
// or the wait for someone to replay it. A retry keeps its delivery's
// start: an endpoint's outage is latency the platform saw.
func ready(dl store.Delivery) time.Time {
	at := dl.Event.ObservedAt
	if !dl.EventRecorded.IsZero() && dl.ScheduleStart.After(dl.EventRecorded) {
		at = at.Add(dl.ScheduleStart.Sub(dl.EventRecorded))
	}
	return at
}
