package intake

import (
	"github.com/prometheus/client_golang/prometheus"

	"presencebridge/internal/store"
)

// Why a notification item was dropped. Graph got its 202 before the
// processor saw the item and never sends it again, so each is counted.
const (
	DropUnreadable          = "unreadable"           // the inbox row is not a notification collection
	DropBadValidationToken  = "bad_validation_token" // the POST's validationTokens failed: every item is suspect
	DropUnknownSubscription = "unknown_subscription" // no subscription of ours (deleted since it was received)
	DropTenantMismatch      = "tenant_mismatch"      // the item's Microsoft tenant is not the subscription's
	DropNoUser              = "no_user"              // an item whose resourceData.id is absent (basic or undecryptable: nothing to re-read) or not a user id
	DropUnknownCertificate  = "unknown_certificate"  // encrypted for a certificate we do not hold, and no user to re-read
	DropNotDecrypted        = "not_decrypted"        // dataSignature mismatch or malformed encryptedContent
	DropMalformed           = "malformed"            // decrypted, but not a presence
	DropUserMismatch        = "user_mismatch"        // the encrypted presence is not the user the item names
)

// Why a user was queued for a re-read (store.QueueResync) instead of
// being updated from the item.
const (
	ResyncBasic              = "basic_notification"  // Graph sent no resource data
	ResyncUnknownCertificate = "unknown_certificate" // encrypted for a certificate we do not hold, even after a reload
)

// Metrics count what the processor made of the changes it applied, what
// it could not apply, and the inbox rows that failed or were quarantined.
// Make one per process with NewMetrics and pass it to every Processor of
// that process.
type Metrics struct {
	changes     *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	resync      *prometheus.CounterVec
	failures    prometheus.Counter
	quarantined *prometheus.CounterVec
}

// NewMetrics registers the processor's counters on reg, every reason at
// zero so that a dashboard sees the series before the first drop.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "presencebridge_presence_changes_total",
			Help: "Presence changes from Graph's notification items, by what the presence write made of each: applied (a new state, with its event), stale (older, by Graph's sequenceNumber, than the state held) or unchanged (the state held, again).",
		}, []string{"outcome"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "presencebridge_notification_items_dropped_total",
			Help: "Graph notification items dropped by the processor after Graph was answered 202, by reason.",
		}, []string{"reason"}),
		resync: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "presencebridge_notification_items_resync_queued_total",
			Help: "Graph notification items whose user was queued for a presence re-read instead, by reason.",
		}, []string{"reason"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "presencebridge_inbox_row_failures_total",
			Help: "Failed attempts at an inbox row that failed alone: it is tried again after a wait, or quarantined after the last.",
		}),
		quarantined: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "presencebridge_inbox_rows_quarantined_total",
			Help: "Inbox rows (one Graph POST each) moved to the quarantine, kept and replayable, by reason.",
		}, []string{"reason"}),
	}
	for _, o := range []string{store.PresenceApplied, store.PresenceStale, store.PresenceUnchanged} {
		m.changes.WithLabelValues(o)
	}
	for _, r := range []string{DropUnreadable, DropBadValidationToken, DropUnknownSubscription, DropTenantMismatch, DropNoUser,
		DropUnknownCertificate, DropNotDecrypted, DropMalformed, DropUserMismatch} {
		m.dropped.WithLabelValues(r)
	}
	for _, r := range []string{ResyncBasic, ResyncUnknownCertificate} {
		m.resync.WithLabelValues(r)
	}
	for _, r := range []string{QuarantineFailed, QuarantineBadValidationToken, QuarantineUnreadable} {
		m.quarantined.WithLabelValues(r)
	}
	reg.MustRegister(m.changes, m.dropped, m.resync, m.failures, m.quarantined)
	return m
}
