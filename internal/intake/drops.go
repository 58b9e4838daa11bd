package intake

import (
	"context"

	"github.com/google/uuid"

	"presencebridge/internal/notification"
	"presencebridge/internal/store"
)

// drop is an item the processor could not apply and did not hand on.
type drop struct {
	reason       string
	inboxRow     int64
	subscription string // Graph's subscription id, as the item gave it
	msTenant     string // the Microsoft tenant, as the item gave it
	tenant       uuid.UUID
	err          error
}

// resync is an item whose user was queued for a re-read instead.
type resync struct {
	reason       string
	subscription string
	msTenant     string
	tenant       uuid.UUID
	user         uuid.UUID
	err          error
}

// drop notes an item dropped, for report; tenant is ours (uuid.Nil when
// not known).
func (p *Processor) drop(m *memo, st *Stats, reason string, row inboxRow, n notification.Notification, tenant uuid.UUID, err error) {
	st.Rejected++
	m.drops = append(m.drops, drop{reason: reason, inboxRow: row.id, subscription: n.SubscriptionID, msTenant: n.TenantID, tenant: tenant, err: err})
}

// resyncOrDrop queues the item's user for a re-read (store.QueueResync,
// the engine's next pass reads it from Graph) or, without a user to read,
// drops the item.
func (p *Processor) resyncOrDrop(ctx context.Context, tx store.Tx, m *memo, st *Stats, reason, dropReason string, row inboxRow,
	n notification.Notification, tenant, user uuid.UUID, err error) error {
	if user == uuid.Nil {
		p.drop(m, st, dropReason, row, n, tenant, err)
		return nil
	}
	st.Resync++
	m.resyncs = append(m.resyncs, resync{reason: reason, subscription: n.SubscriptionID, msTenant: n.TenantID, tenant: tenant, user: user, err: err})
	return tx.QueueResync(ctx, tenant, user, reasonText[reason])
}

// reasonText is what presence_resync.reason says, for people.
var reasonText = map[string]string{
	ResyncBasic:              "basic notification",
	ResyncUnknownCertificate: "unknown encryption certificate",
}

// report counts and logs, once, what a committed batch dropped or queued
// for a re-read: each item one line, with its subscription and tenants,
// never its clientState or content; the rows it quarantined or that
// failed (reportQuarantine); and each tenant's notification items
// (ProcessorOptions.Activity). It counts st's changes by outcome, logging
// none: a stale or repeated change is Graph's ordinary reordering and
// retrying, which only its rate makes worth a look.
func (p *Processor) report(m *memo, st Stats) {
	p.reportQuarantine(m)
	if p.metrics != nil {
		p.metrics.changes.WithLabelValues(store.PresenceApplied).Add(float64(st.Applied))
		p.metrics.changes.WithLabelValues(store.PresenceStale).Add(float64(st.Stale))
		p.metrics.changes.WithLabelValues(store.PresenceUnchanged).Add(float64(st.Unchanged))
	}
	for _, n := range m.notified {
		p.counts.Notified(n.tenant, n.at)
	}
	for _, d := range m.drops {
		if p.metrics != nil {
			p.metrics.dropped.WithLabelValues(d.reason).Inc()
		}
		args := []any{"reason", d.reason, "inbox_row", d.inboxRow, "subscription", d.subscription, "ms_tenant", d.msTenant}
		if d.tenant != uuid.Nil {
			args = append(args, "tenant", d.tenant)
		}
		if d.err != nil {
			args = append(args, "err", d.err)
		}
		p.logger.Warn("intake: notification item dropped", args...)
	}
	for _, r := range m.resyncs {
		if p.metrics != nil {
			p.metrics.resync.WithLabelValues(r.reason).Inc()
		}
		args := []any{"reason", r.reason, "subscription", r.subscription, "ms_tenant", r.msTenant, "tenant", r.tenant, "user", r.user}
		if r.err == nil {
			// A basic notification is Graph's normal way for a resource
			// without resource data: worth a trace, not a warning.
			p.logger.Debug("intake: user queued for a presence re-read", args...)
			continue
		}
		p.logger.Warn("intake: notification item not decrypted; user queued for a presence re-read", append(args, "err", r.err)...)
	}
}
