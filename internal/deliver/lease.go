package deliver

import (
	"context"
	"time"

	"presencebridge/internal/store"
)

// A claim is batched (up to Queue deliveries of an endpoint) but sends are
// not (PerEndpoint at a time), so a delivery may wait for a slot longer
// than its lease: 32 claimed, 4 sent at a time and 15 s timeouts are two
// minutes against a 30 s lease. Once a lease has run out another worker
// (or instance) may claim the delivery again, deliver it and then the
// user's next event; a copy sent afterwards by the first worker would
// reach the endpoint after that next event and move the user's state
// backwards there. So nothing is sent on a lease that might not outlast
// the send: a delivery with less than Timeout+LeaseMargin left is renewed
// first (store.RenewDelivery, only while its claim still holds it) and is
// dropped when that fails, and the request is cut off LeaseMargin before
// the lease ends, whatever else it waited for. A late record only costs a
// duplicate with the same webhook-id, sent before the user's next event.

// LeaseMargin is how much of a claim's lease is left unused after a send's
// deadline: the record of the outcome and the time between the lease's
// start in the database and the moment this process began to count it.
const LeaseMargin = time.Second

// claimed is a claimed delivery and when its lease ends by this process's
// clock: counted from before the claim was asked for, so it ends no later
// than the database's lease.
type claimed struct {
	store.Delivery
	until time.Time
}

// held is dl, claimed by a request started at at.
func (d *Deliverer) held(dl store.Delivery, at time.Time) claimed {
	return claimed{Delivery: dl, until: at.Add(d.opts.Lease)}
}

// hold makes sure dl's claim outlasts its send, renewing the lease when
// less than Timeout+LeaseMargin of it is left. false: the claim no longer
// holds the delivery (or could not be renewed), and it must not be sent;
// whichever claim holds it, or the next after the lease, sends it.
func (d *Deliverer) hold(ctx context.Context, dl *claimed) bool {
	if time.Until(dl.until) >= d.opts.Timeout+LeaseMargin {
		return true
	}
	at := time.Now()
	lease, ok, err := d.st.RenewDelivery(ctx, dl.ID, dl.Lease, d.opts.Lease)
	if err != nil {
		if ctx.Err() == nil {
			d.opts.Logger.Warn("deliver: renewing a claim failed; not sent now, it will be once its lease ends", "err", err, "delivery", dl.ID)
		}
		return false
	}
	if !ok {
		d.opts.Logger.Debug("deliver: a claim's lease ran out while it waited for a slot and another took it; not sent here", "delivery", dl.ID)
		return false
	}
	dl.Lease, dl.until = lease, at.Add(d.opts.Lease)
	return true
}
