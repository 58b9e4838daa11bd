package graphsim

import (
	"net/http"
	"time"
)

// The notification journal is what Graph knows and a subscriber cannot
// see: every change notification made, how many POSTs carried it and
// whether one of them was acknowledged (a 2xx in time). Microsoft keeps no
// such list for us; a fault suite needs it to hold a product to "every
// notification Graph considers delivered reached the platform". It is off
// until asked for (POST /_sim/notifications/journal), so a long-running
// Sim does not keep every notification it ever sent.

// maxJournal bounds the journal; what comes after is counted, not kept.
const maxJournal = 1_000_000

// JournalEntry is one change notification, in the order Graph made them.
type JournalEntry struct {
	ID             int64  `json:"id"`
	SubscriptionID string `json:"subscriptionId"`
	TenantID       string `json:"tenantId"`
	UserID         string `json:"userId"`
	Availability   string `json:"availability"`
	Activity       string `json:"activity"`
	SequenceNumber string `json:"sequenceNumber"`
	// MadeAt is when the change happened, by the wall clock (not the
	// Sim's): nothing the subscriber did because of this notification can
	// be older.
	MadeAt time.Time `json:"madeAt"`
	// Posts counts the POSTs that carried it (retries and duplicates
	// included); Acks those answered 2xx within the timeout.
	Posts   int        `json:"posts"`
	Acks    int        `json:"acks"`
	AckedAt *time.Time `json:"ackedAt,omitempty"`
	// PostedAt is when the first POST carrying it started, and AckTook how
	// long the POST that was acknowledged first took to be answered, by
	// the wall clock: Graph's side of a delivery's latency (a load run
	// measures POST to webhook, and the intake's acknowledgement).
	PostedAt *time.Time    `json:"postedAt,omitempty"`
	AckTook  time.Duration `json:"ackTookNs,omitempty"`
	// Dropped says why it will never be sent: "fault" (a drop fault),
	// "endpoint" (the endpoint was dropping), "expired" (4 hours of retries).
	Dropped string `json:"dropped,omitempty"`
}

// Journal is the journal's content: Missed counts notifications made
// after it was full.
type Journal struct {
	Enabled bool           `json:"enabled"`
	Entries []JournalEntry `json:"entries"`
	Missed  int64          `json:"missed"`
}

type journal struct {
	enabled bool
	// first is the ID before the first entry: IDs go on across restarts,
	// so a notification still in flight from before one is not taken for
	// a newer entry.
	first   int
	entries []JournalEntry
	missed  int64
}

// StartJournal empties the journal and records from now on.
func (s *Sim) StartJournal() {
	n := s.notify
	n.mu.Lock()
	defer n.mu.Unlock()
	n.journal = journal{enabled: true, first: n.journal.first + len(n.journal.entries)}
}

// StopJournal stops recording new notifications; what it holds stays,
// and is still updated as those notifications are posted.
func (s *Sim) StopJournal() {
	n := s.notify
	n.mu.Lock()
	defer n.mu.Unlock()
	n.journal.enabled = false
}

// NotificationJournal copies the journal.
func (s *Sim) NotificationJournal() Journal {
	n := s.notify
	n.mu.Lock()
	defer n.mu.Unlock()
	return Journal{Enabled: n.journal.enabled, Entries: append([]JournalEntry{}, n.journal.entries...), Missed: n.journal.missed}
}

// made records a new change notification (lifecycle notifications are
// not journaled).
func (j *journal) made(it *deliveryItem) {
	if !j.enabled || it.lifecycle != "" {
		return
	}
	if len(j.entries) >= maxJournal {
		j.missed++
		return
	}
	it.journal = j.first + len(j.entries) + 1
	j.entries = append(j.entries, JournalEntry{ID: int64(it.journal), SubscriptionID: it.sub.id, TenantID: it.sub.tenant,
		UserID: it.presence.ID.String(), Availability: it.presence.Availability, Activity: it.presence.Activity,
		SequenceNumber: it.presence.SequenceNumber, MadeAt: it.at})
}

func (j *journal) entry(it *deliveryItem) *JournalEntry {
	i := it.journal - j.first - 1
	if it.journal == 0 || i < 0 || i >= len(j.entries) {
		return nil // not journaled, or before the journal was restarted
	}
	return &j.entries[i]
}

// posted records one POST of items, started at start (wall clock) and
// answered after took, and whether it was acknowledged (at, Sim clock).
func (j *journal) posted(items []*deliveryItem, acked bool, at, start time.Time, took time.Duration) {
	for _, it := range items {
		e := j.entry(it)
		if e == nil {
			continue
		}
		e.Posts++
		if e.PostedAt == nil {
			e.PostedAt = &start
		}
		if acked {
			e.Acks++
			if e.AckedAt == nil {
				e.AckedAt = &at
				e.AckTook = took
			}
		}
	}
}

// dropped records that items will never be sent, and why.
func (j *journal) dropped(reason string, items ...*deliveryItem) {
	for _, it := range items {
		if e := j.entry(it); e != nil && e.Dropped == "" {
			e.Dropped = reason
		}
	}
}

func (s *Sim) journalControlRoutes() []ctlRoute {
	return []ctlRoute{
		{"POST", "/notifications/journal", `{"enabled": true}`,
			"start the notification journal afresh (every change notification from now on, with its POSTs and acknowledgements); false stops it", s.ctlStartJournal},
		{"GET", "/notifications/journal", "", "the journal: each change notification in the order made, its POSTs, acks (2xx in time) and why it was dropped",
			func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.NotificationJournal()) }},
	}
}

func (s *Sim) ctlStartJournal(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Enabled bool `json:"enabled"`
	}
	if !decode(w, r, &body) {
		return
	}
	if body.Enabled {
		s.StartJournal()
	} else {
		s.StopJournal()
	}
	w.WriteHeader(http.StatusNoContent)
}
