package faults

import (
	"fmt"
	"slices"
	"strings"

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
	Delivered, Dead, Superseded, Suppressed, Pending, Overtaken, Lost int
	// ViaRepair of Delivered reached the platform through a re-read of
	// the user's presence rather than the notification itself.
	ViaRepair int

	// The product's published events whose webhook never arrived although
	// the product recorded it delivered, or that were never queued for
	// the endpoint at all: lost downstream.
	NotReceived, NotQueued int
	// Repeats are events with the same state as the user's event before:
	// a notification stored twice (Graph's retry of a POST whose answer it
	// missed) and sent again under a new webhook-id and sequence.
	Repeats int
	// InboxBacklog is the intake not processed yet.
	InboxBacklog int

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
	return fmt.Sprintf("ledger: graph notified %d, acked %d (dropped by graph %d, unacked %d) → delivered %d (via repair %d), "+
		"overtaken %d, superseded %d, dead %d, suppressed %d, pending %d, LOST %d | downstream: webhooks %d, duplicates %d (same id), "+
		"conflicting ids %d, out of order %d, unverified %d, not received %d, not queued %d, repeated states %d | inbox %d",
		l.Notified, l.Acked, l.DroppedByGraph, l.Unacked, l.Delivered, l.ViaRepair, l.Overtaken, l.Superseded, l.Dead, l.Suppressed,
		l.Pending, l.Lost, l.Webhooks, l.Duplicates, l.Conflicts, l.OutOfOrder, l.Unverified, l.NotReceived, l.NotQueued, l.Repeats, l.InboxBacklog)
}

func (l *Ledger) problem(format string, args ...any) {
	if len(l.Problems) < 30 {
		l.Problems = append(l.Problems, fmt.Sprintf(format, args...))
	}
}

// account makes the ledger of one tenant's users from graphsim's journal,
// the product's history of each user (oldest event first), what the
// receiver at endpoint got, and the inbox backlog.
func account(j graphsim.Journal, tenant string, history map[uuid.UUID][]store.TimelineEvent, arrivals []Arrival,
	endpoint string, backlog int) Ledger {
	l := Ledger{InboxBacklog: backlog}
	received := l.downstream(arrivals)
	byUser := versions(j, tenant, &l)
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
		l.user(u, byUser[u], history[u], received, endpoint, backlog)
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
	endpoint string, backlog int) {
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
		case slices.ContainsFunc(match[i+1:], func(k int) bool { return k >= 0 }):
			what = "overtaken"
		default:
			what = "lost"
			l.problem("lost: user %s %s/%s (Graph's version %s), acknowledged %d time(s), no event", u, n.Availability, n.Activity, n.SequenceNumber, n.Acks)
		}
		counts[what]++
	}
	l.Delivered += counts["delivered"]
	l.Dead += counts["dead"]
	l.Superseded += counts["superseded"]
	l.Suppressed += counts["suppressed"]
	l.Pending += counts["pending"]
	l.Overtaken += counts["overtaken"]
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
// match[i] is the event of acked[i], or -1.
func align(acked []graphsim.JournalEntry, events []store.TimelineEvent) []int {
	n, m := len(acked), len(events)
	same := func(i, k int) bool {
		return acked[i].Availability == events[k].Availability && acked[i].Activity == events[k].Activity
	}
	// best[i][k]: the most matches of acked[i:] and events[k:].
	best := make([][]int, n+1)
	for i := range best {
		best[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for k := m - 1; k >= 0; k-- {
			best[i][k] = max(best[i+1][k], best[i][k+1])
			if same(i, k) {
				best[i][k] = max(best[i][k], 1+best[i+1][k+1])
			}
		}
	}
	match := make([]int, n)
	for i, k := 0, 0; i < n; {
		switch {
		case k < m && same(i, k) && best[i][k] == 1+best[i+1][k+1]:
			match[i] = k
			i, k = i+1, k+1
		case k < m && best[i][k] == best[i][k+1]:
			k++
		default:
			match[i] = -1
			i++
		}
	}
	return match
}

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
