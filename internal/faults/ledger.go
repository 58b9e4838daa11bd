package faults

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/store"
)

// Ledger accounts for every change notification Graph considers
// acknowledged (a 2xx in time): followed through the product's history
// of the user (its presence events, each with its deliveries) to the
// receiver. Each ends delivered downstream, dead-lettered, superseded by
// a newer state of the user while the endpoint failed, suppressed (the
// debounce), pending, or overtaken (the product found it stale: a newer
// version of the user, by Graph's sequenceNumber, was applied first) —
// or lost. Downstream, duplicates must carry the same webhook-id, and each
// user's webhooks must arrive in sequence order.
type Ledger struct {
	// Graph's side, from its journal: notifications made, acknowledged,
	// dropped by Graph itself (never sent), and neither yet.
	Notified, Acked, DroppedByGraph, Unacked int

	// What became of the acknowledged ones.
	// Held counts those in a quarantined inbox row.
	Delivered, Dead, Superseded, Suppressed, Pending, Overtaken, Held, Lost int
	// OvertakenHere of Overtaken were overtaken in the product: Graph
	// acknowledged them before the later version that was applied first
	// (the others, Graph delivered after a later one: its reordering).
	OvertakenHere int
	// ByRepair of Overtaken have no event and no later version with one,
	// but a re-read of the user's presence after they were made (which
	// found that or a newer state): their notification was not applied —
	// the product dropped it, say with the subscription it came for — and
	// the repair stood in for it. Latest state wins; a scenario allows it
	// only where the product is meant to repair (Expect.Repaired).
	ByRepair int
	// ViaRepair of Delivered reached the platform through a re-read of
	// the user's presence rather than the notification itself.
	ViaRepair int
	// Users with acknowledged notifications, and those whose last one —
	// the state they are in — reached the platform.
	UsersNotified, FinalDelivered int

	// The product's published events whose webhook never arrived although
	// the product recorded it delivered, or that were never queued for
	// the endpoint at all: lost downstream.
	NotReceived, NotQueued int
	// Repeats are events with the same state as the user's event before:
	// a notification stored twice (Graph's retry of a POST whose answer it
	// missed) and sent again under a new webhook-id and sequence.
	Repeats int
	// InboxBacklog is the intake not processed yet; Quarantined the
	// inbox rows the product gave up on (kept, replayable), with why.
	InboxBacklog int
	Quarantined  int

	// The receiver's side.
	Webhooks   int // requests
	Duplicates int // requests again for a webhook-id already received
	Conflicts  int // one user and sequence under two webhook-ids, or one id for two
	OutOfOrder int // a user's webhook with a lower sequence after a higher one
	Unverified int // signature did not verify

	// Problems names each loss and violation (the first 30).
	Problems []string
	// Users is one line per user, for the log.
	Users []string
}

// Summary is the ledger on one line.
func (l Ledger) Summary() string {
	return fmt.Sprintf("ledger: graph notified %d, acked %d (dropped by graph %d, unacked %d) → users' last state delivered %d/%d; delivered %d (via repair %d), "+
		"overtaken %d (in the product %d, by repair %d), superseded %d, dead %d, suppressed %d, pending %d, quarantined %d, LOST %d | downstream: webhooks %d, "+
		"duplicates %d (same id), conflicting ids %d, out of order %d, unverified %d, not received %d, not queued %d, repeated states %d | "+
		"inbox %d, quarantined rows %d",
		l.Notified, l.Acked, l.DroppedByGraph, l.Unacked, l.FinalDelivered, l.UsersNotified, l.Delivered, l.ViaRepair, l.Overtaken, l.OvertakenHere, l.ByRepair,
		l.Superseded, l.Dead, l.Suppressed,
		l.Pending, l.Held, l.Lost, l.Webhooks, l.Duplicates, l.Conflicts, l.OutOfOrder, l.Unverified, l.NotReceived, l.NotQueued, l.Repeats,
		l.InboxBacklog, l.Quarantined)
}

func (l *Ledger) problem(format string, args ...any) {
	if len(l.Problems) < 30 {
		l.Problems = append(l.Problems, fmt.Sprintf(format, args...))
	}
}

// observed is what a ledger is made of: graphsim's journal, the product's
// history of each of the tenant's users (oldest event first), its inbox
// (backlog and quarantine) and what the receiver at endpoint got.
type observed struct {
	journal    graphsim.Journal
	tenant     string
	history    map[uuid.UUID][]store.TimelineEvent
	backlog    int
	quarantine []store.QuarantinedInboxRow
	arrivals   []Arrival
	endpoint   string
}

// account makes the ledger of what was observed.
func account(o observed) Ledger {
	l := Ledger{InboxBacklog: o.backlog, Quarantined: len(o.quarantine)}
	received := l.downstream(o.arrivals)
	byUser := versions(o.journal, o.tenant, &l)
	held := quarantinedUsers(o.quarantine, &l)
	history := o.history
	var users []uuid.UUID
	for u := range byUser {
		users = append(users, u)
	}
	for u := range history {
		if _, ok := byUser[u]; !ok {
			users = append(users, u)
		}
	}
	slices.SortFunc(users, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	for _, u := range users {
		l.user(u, byUser[u], history[u], received, o.endpoint, o.backlog, held[u])
	}
	return l
}

// versions groups the tenant's change notifications by user, one per
// version (Graph's sequenceNumber: two subscriptions covering a user while
// one replaces the other notify the same version twice), in version order.
func versions(j graphsim.Journal, tenant string, l *Ledger) map[uuid.UUID][]graphsim.JournalEntry {
	seen := map[string]int{} // user and sequenceNumber → index in out[user]
	out := map[uuid.UUID][]graphsim.JournalEntry{}
	for _, e := range j.Entries {
		if e.TenantID != tenant {
			continue
		}
		u, err := uuid.Parse(e.UserID)
		if err != nil {
			continue
		}
		k := e.UserID + "/" + e.SequenceNumber
		if i, dup := seen[k]; dup {
			x := &out[u][i]
			x.Acks += e.Acks
			if x.Dropped != "" && e.Dropped == "" {
				x.Dropped = ""
			}
			continue
		}
		seen[k] = len(out[u])
		out[u] = append(out[u], e)
	}
	for u, es := range out {
		slices.SortFunc(es, func(a, b graphsim.JournalEntry) int { return strings.Compare(a.SequenceNumber, b.SequenceNumber) })
		for _, e := range es {
			l.Notified++
			switch {
			case e.Acks > 0:
				l.Acked++
			case e.Dropped != "":
				l.DroppedByGraph++
			default:
				l.Unacked++
			}
		}
		out[u] = es
	}
	return out
}

// user accounts for one user: each acknowledged version is matched to one
// of the user's events with its availability and activity, in order (the
// longest common subsequence, so one missing event does not shift the
// rest), and then followed to the receiver.
func (l *Ledger) user(u uuid.UUID, notes []graphsim.JournalEntry, events []store.TimelineEvent, received map[string]bool,
	endpoint string, backlog int, held bool) {
	var acked []graphsim.JournalEntry
	for _, n := range notes {
		if n.Acks > 0 {
			acked = append(acked, n)
		}
	}
	match := align(acked, events)
	counts := map[string]int{}
	for i, n := range acked {
		var what string
		switch {
		case match[i] >= 0:
			what = l.outcome(events[match[i]], endpoint, received)
			if what == "delivered" && events[match[i]].Source == "repair" {
				l.ViaRepair++
			}
		case backlog > 0:
			what = "pending"
		case held:
			what = "quarantined"
		case slices.ContainsFunc(match[i+1:], func(k int) bool { return k >= 0 }):
			what = "overtaken"
			if !slices.ContainsFunc(acked[i+1:], func(x graphsim.JournalEntry) bool { return ackedBefore(x, n) }) {
				l.OvertakenHere++
				l.problem("overtaken in the product: user %s %s/%s (Graph's version %s) acknowledged %s, before every later version, "+
					"and found stale: a later one was applied first", u, n.Availability, n.Activity, n.SequenceNumber, ackTime(n))
			}
		case repairedSince(events, n):
			what = "overtaken by repair"
		default:
			what = "lost"
			l.problem("lost: user %s %s/%s (Graph's version %s, made %s), acknowledged %d time(s), no event; the user's last events: %s",
				u, n.Availability, n.Activity, n.SequenceNumber, n.MadeAt.Format(stamp), n.Acks, lastEvents(events, 3))
		}
		counts[what]++
		if i == len(acked)-1 {
			l.UsersNotified++
			// Overtaken by a repair, the user's state is their last event's.
			if what == "delivered" || what == "overtaken by repair" && l.outcome(events[len(events)-1], endpoint, received) == "delivered" {
				l.FinalDelivered++
			} else {
				l.problem("last state: user %s %s/%s (Graph's version %s) is %s", u, n.Availability, n.Activity, n.SequenceNumber, what)
			}
		}
	}
	l.Delivered += counts["delivered"]
	l.Dead += counts["dead"]
	l.Superseded += counts["superseded"]
	l.Suppressed += counts["suppressed"]
	l.Pending += counts["pending"]
	l.Overtaken += counts["overtaken"] + counts["overtaken by repair"]
	l.ByRepair += counts["overtaken by repair"]
	l.Held += counts["quarantined"]
	l.Lost += counts["lost"] + counts["not received"] + counts["not queued"]
	// Every published event of the user, matched or not (a re-read, an
	// unacknowledged notification the product stored), must reach the
	// endpoint or be accounted for there.
	for i, e := range events {
		if i > 0 && e.Source != "sync" && e.Availability == events[i-1].Availability && e.Activity == events[i-1].Activity {
			l.Repeats++
			l.problem("repeated: user %s %s/%s again as sequence %d (event %s, source %s)", u, e.Availability, e.Activity, e.Sequence, e.UID, e.Source)
		}
		switch l.outcome(e, endpoint, received) {
		case "not received":
			l.NotReceived++
			l.problem("not received: user %s sequence %d (event %s) recorded delivered, never arrived", u, e.Sequence, e.UID)
		case "not queued":
			l.NotQueued++
			l.problem("not queued: user %s sequence %d (event %s) published with no delivery to the endpoint", u, e.Sequence, e.UID)
		}
	}
	l.Users = append(l.Users, fmt.Sprintf("%s: acked %d, events %d, %v", u, len(acked), len(events), counts))
}

// repairedSince reports whether a re-read of the user's presence
// (a repair event) was made after version n: it read n or a newer state.
func repairedSince(events []store.TimelineEvent, n graphsim.JournalEntry) bool {
	return slices.ContainsFunc(events, func(e store.TimelineEvent) bool {
		return e.Source == "repair" && !e.ObservedAt.Before(n.MadeAt.Add(-causalSlack))
	})
}

// outcome is what became of event e at endpoint.
func (l *Ledger) outcome(e store.TimelineEvent, endpoint string, received map[string]bool) string {
	if e.Suppressed != "" {
		return "suppressed"
	}
	if e.Sequence == 0 {
		return "pending" // held by the debounce
	}
	i := slices.IndexFunc(e.Deliveries, func(d store.TimelineDelivery) bool { return d.EndpointURL == endpoint })
	if i < 0 {
		return "not queued"
	}
	switch d := e.Deliveries[i]; d.Status {
	case store.DeliveryDelivered:
		if !received[e.UID.String()] {
			return "not received"
		}
		return "delivered"
	case store.DeliveryDead:
		return "dead"
	case store.DeliverySuperseded:
		return "superseded"
	default:
		return "pending"
	}
}

// align matches acked versions to events with the same availability and
// activity, in order, as many as possible (longest common subsequence);
// match[i] is the event of acked[i], or -1. An event never matches a
// version made after it (causality). Users move through few states, so
// several alignments may match as many; the one kept matches the latest
// versions it can: a version the product skipped because it had a newer
// one already is then the older of two alike, as it was.
func align(acked []graphsim.JournalEntry, events []store.TimelineEvent) []int {
	n, m := len(acked), len(events)
	same := func(i, k int) bool {
		return acked[i].Availability == events[k].Availability && acked[i].Activity == events[k].Activity &&
			!events[k].CreatedAt.Before(acked[i].MadeAt.Add(-causalSlack))
	}
	// best[i][k]: the most matches of acked[:i] and events[:k].
	best := make([][]int, n+1)
	for i := range best {
		best[i] = make([]int, m+1)
	}
	for i := 1; i <= n; i++ {
		for k := 1; k <= m; k++ {
			best[i][k] = max(best[i-1][k], best[i][k-1])
			if same(i-1, k-1) {
				best[i][k] = max(best[i][k], 1+best[i-1][k-1])
			}
		}
	}
	match := make([]int, n)
	for i, k := n, m; i > 0; {
		switch {
		case k > 0 && same(i-1, k-1) && best[i][k] == 1+best[i-1][k-1]:
			match[i-1] = k - 1
			i, k = i-1, k-1
		case k > 0 && best[i][k] == best[i][k-1]:
			k--
		default:
			match[i-1] = -1
			i--
		}
	}
	return match
}

// causalSlack allows for the clocks of graphsim and PostgreSQL, both the
// host's, being read at different points of one instant.
const causalSlack = 50 * time.Millisecond

// downstream checks what the receiver got and returns the webhook-ids
// it answered 2xx.
func (l *Ledger) downstream(arrivals []Arrival) map[string]bool {
	l.Webhooks = len(arrivals)
	ok := map[string]bool{}
	idOf := map[string]string{}   // user/sequence → webhook-id
	keyOf := map[string]string{}  // webhook-id → user/sequence
	last := map[uuid.UUID]int64{} // highest sequence arrived per user
	for _, a := range arrivals {
		if !a.Verified {
			l.Unverified++
			l.problem("unverified: webhook %s (user %s sequence %d) does not verify", a.WebhookID, a.User, a.Sequence)
		}
		key := fmt.Sprintf("%s/%d", a.User, a.Sequence)
		if prev, seen := keyOf[a.WebhookID]; seen {
			l.Duplicates++
			if prev != key {
				l.Conflicts++
				l.problem("conflict: webhook-id %s carried %s and then %s", a.WebhookID, prev, key)
			}
		} else {
			keyOf[a.WebhookID] = key
			if id, seen := idOf[key]; seen && id != a.WebhookID {
				l.Conflicts++
				l.problem("conflict: user %s sequence %d arrived as %s and as %s", a.User, a.Sequence, id, a.WebhookID)
			}
			idOf[key] = a.WebhookID
		}
		if a.Sequence < last[a.User] {
			l.OutOfOrder++
			l.problem("out of order: user %s sequence %d (webhook %s) arrived after sequence %d", a.User, a.Sequence, a.WebhookID, last[a.User])
		}
		last[a.User] = max(last[a.User], a.Sequence)
		if a.Status >= 200 && a.Status < 300 {
			ok[a.WebhookID] = true
		}
	}
	return ok
}

// quarantinedUsers are the users some quarantined row has an item for
// (resourceData.id is in clear; the version is encrypted), and notes
// each row in the problems.
func quarantinedUsers(rows []store.QuarantinedInboxRow, l *Ledger) map[uuid.UUID]bool {
	users := map[uuid.UUID]bool{}
	for _, r := range rows {
		var c struct {
			Value []struct {
				ResourceData struct {
					ID string `json:"id"`
				} `json:"resourceData"`
			} `json:"value"`
		}
		json.Unmarshal(r.Payload, &c)
		for _, n := range c.Value {
			if u, err := uuid.Parse(n.ResourceData.ID); err == nil {
				users[u] = true
			}
		}
		l.problem("quarantined: inbox row %d (%d items, %d attempts): %s: %s", r.ID, r.Items, r.Attempts, r.Reason, r.Error)
	}
	return users
}

const stamp = "15:04:05.000"

// ackTime is when Graph first acknowledged e ("-": never).
func ackTime(e graphsim.JournalEntry) string {
	if e.AckedAt == nil {
		return "-"
	}
	return e.AckedAt.Format(stamp)
}

// ackedBefore reports whether Graph acknowledged a before b.
func ackedBefore(a, b graphsim.JournalEntry) bool {
	return a.AckedAt != nil && b.AckedAt != nil && a.AckedAt.Before(*b.AckedAt)
}

// lastEvents describes a user's last n events, for a problem's line.
func lastEvents(events []store.TimelineEvent, n int) string {
	var parts []string
	for _, e := range events[max(0, len(events)-n):] {
		parts = append(parts, fmt.Sprintf("%s/%s by %s, observed %s, stored %s (sequence %d)", e.Availability, e.Activity, e.Source,
			e.ObservedAt.Format(stamp), e.CreatedAt.Format(stamp), e.Sequence))
	}
	return strings.Join(parts, "; ")
}
