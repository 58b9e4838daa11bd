package faults

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/store"
)

// A small world on paper: one user whose versions 1–4 Graph notified and
// saw acknowledged, the product's events for them, and what the receiver
// got. Each case breaks one thing; the ledger must say so.
func TestLedgerFindsEachKindOfLossAndViolation(t *testing.T) {
	const tenant, endpoint = "tenant", "http://receiver/presence"
	user := uuid.New()
	pairs := []string{"Available", "Busy", "Away", "Busy"}
	journal := func() graphsim.Journal {
		var j graphsim.Journal
		for i, p := range pairs {
			j.Entries = append(j.Entries, graphsim.JournalEntry{ID: int64(i + 1), TenantID: tenant, UserID: user.String(),
				Availability: p, Activity: p, SequenceNumber: fmt.Sprintf("%02d", i+1), Posts: 1, Acks: 1})
		}
		return j
	}
	events := func() []store.TimelineEvent {
		var es []store.TimelineEvent
		for i, p := range pairs {
			es = append(es, store.TimelineEvent{UID: uuid.New(), Sequence: int64(i + 1), Availability: p, Activity: p, Source: "notification",
				Deliveries: []store.TimelineDelivery{{EndpointURL: endpoint, Status: store.DeliveryDelivered}}})
		}
		return es
	}
	arrivals := func(es []store.TimelineEvent) []Arrival {
		var as []Arrival
		for i, e := range es {
			as = append(as, Arrival{N: i, WebhookID: e.UID.String(), Verified: true, User: user, Sequence: e.Sequence, Status: 204})
		}
		return as
	}
	cases := []struct {
		name  string
		spoil func(j *graphsim.Journal, es *[]store.TimelineEvent, as *[]Arrival)
		check func(l Ledger) bool
	}{
		{"nothing broken", func(*graphsim.Journal, *[]store.TimelineEvent, *[]Arrival) {},
			func(l Ledger) bool { return l.Acked == 4 && l.Delivered == 4 && l.Lost == 0 && len(l.Problems) == 0 }},
		{"the last version has no event: lost, not overtaken", func(_ *graphsim.Journal, es *[]store.TimelineEvent, as *[]Arrival) {
			*es = (*es)[:3]
			*as = arrivals(*es)
		}, func(l Ledger) bool { return l.Lost == 1 && l.Overtaken == 0 }},
		{"an event recorded delivered never arrived", func(_ *graphsim.Journal, _ *[]store.TimelineEvent, as *[]Arrival) {
			*as = (*as)[:3]
		}, func(l Ledger) bool { return l.Lost == 1 && l.NotReceived == 1 }},
		{"an event never queued for the endpoint", func(_ *graphsim.Journal, es *[]store.TimelineEvent, as *[]Arrival) {
			(*es)[2].Deliveries = nil
			*as = append((*as)[:2:2], (*as)[3])
		}, func(l Ledger) bool { return l.Lost == 1 && l.NotQueued == 1 }},
		{"a version with no event before one with an event was overtaken (found stale)", func(_ *graphsim.Journal, es *[]store.TimelineEvent, as *[]Arrival) {
			*es = append((*es)[:1:1], (*es)[2:]...)
			*as = arrivals(*es)
		}, func(l Ledger) bool {
			return l.Overtaken == 1 && l.OvertakenHere == 1 && l.Lost == 0 && l.Delivered == 3
		}},
		{"a version Graph acknowledged after a later one was overtaken by Graph's reordering", func(j *graphsim.Journal, es *[]store.TimelineEvent, as *[]Arrival) {
			late := time.Date(2026, 1, 1, 0, 0, 9, 0, time.UTC)
			early := late.Add(-time.Second)
			j.Entries[1].AckedAt, j.Entries[2].AckedAt = &late, &early
			*es = append((*es)[:1:1], (*es)[2:]...)
			*as = arrivals(*es)
		}, func(l Ledger) bool { return l.Overtaken == 1 && l.OvertakenHere == 0 && l.Lost == 0 }},
		{"a version that reached the platform through a re-read is delivered via repair", func(_ *graphsim.Journal, es *[]store.TimelineEvent, _ *[]Arrival) {
			(*es)[3].Source = "repair"
		}, func(l Ledger) bool { return l.Delivered == 4 && l.ViaRepair == 1 }},
		{"an unprocessed inbox counts as pending", func(_ *graphsim.Journal, es *[]store.TimelineEvent, as *[]Arrival) {
			*es = (*es)[:3]
			*as = arrivals(*es)
		}, func(l Ledger) bool { return l.Lost == 0 && l.Pending == 1 }},
		{"a version in a quarantined inbox row is quarantined, not lost", func(_ *graphsim.Journal, es *[]store.TimelineEvent, as *[]Arrival) {
			*es = (*es)[:3]
			*as = arrivals(*es)
		}, func(l Ledger) bool {
			return l.Lost == 0 && l.Held == 1 && l.Quarantined == 1 && l.FinalDelivered == 0 && len(l.Problems) == 2
		}},
		{"a duplicate under the same webhook-id is fine", func(_ *graphsim.Journal, _ *[]store.TimelineEvent, as *[]Arrival) {
			*as = append(*as, (*as)[3])
		}, func(l Ledger) bool { return l.Duplicates == 1 && l.Conflicts == 0 && len(l.Problems) == 0 }},
		{"a duplicate under another webhook-id conflicts", func(_ *graphsim.Journal, _ *[]store.TimelineEvent, as *[]Arrival) {
			d := (*as)[3]
			d.WebhookID = uuid.NewString()
			*as = append(*as, d)
		}, func(l Ledger) bool { return l.Conflicts == 1 }},
		{"an older sequence after a newer one is out of order", func(_ *graphsim.Journal, _ *[]store.TimelineEvent, as *[]Arrival) {
			(*as)[1], (*as)[2] = (*as)[2], (*as)[1]
		}, func(l Ledger) bool { return l.OutOfOrder == 1 }},
		{"a state stored twice is sent again under a new webhook-id", func(_ *graphsim.Journal, es *[]store.TimelineEvent, as *[]Arrival) {
			again := (*es)[3]
			again.UID, again.Sequence = uuid.New(), 5
			*es = append(*es, again)
			*as = arrivals(*es)
		}, func(l Ledger) bool { return l.Repeats == 1 && l.Conflicts == 0 }},
		{"a signature that does not verify", func(_ *graphsim.Journal, _ *[]store.TimelineEvent, as *[]Arrival) {
			(*as)[0].Verified = false
		}, func(l Ledger) bool { return l.Unverified == 1 }},
		{"a version Graph never got acknowledged is not the product's to deliver", func(j *graphsim.Journal, es *[]store.TimelineEvent, as *[]Arrival) {
			j.Entries[1].Acks = 0
			*es = append((*es)[:1:1], (*es)[2:]...)
			*as = arrivals(*es)
		}, func(l Ledger) bool { return l.Acked == 3 && l.Unacked == 1 && l.Lost == 0 && l.Delivered == 3 }},
		{"a dead letter and a superseded delivery are accounted for", func(_ *graphsim.Journal, es *[]store.TimelineEvent, as *[]Arrival) {
			(*es)[1].Deliveries[0].Status = store.DeliveryDead
			(*es)[2].Deliveries[0].Status = store.DeliverySuperseded
			*as = append((*as)[:1:1], (*as)[3])
		}, func(l Ledger) bool { return l.Dead == 1 && l.Superseded == 1 && l.Lost == 0 && l.Delivered == 2 }},
	}
	// Users move through few states, so one pair recurs: the ledger must
	// neither take a late event for an early version (hiding that the
	// late version is missing) nor an early event for a late version.
	// (pairs: Available, Busy, Away, Busy; version i made at 10·i s.)
	at := func(s int) time.Time { return time.Date(2026, 1, 1, 0, 0, s, 0, time.UTC) }
	recurring := func(j *graphsim.Journal, es *[]store.TimelineEvent, as *[]Arrival, kept []int, created ...int) {
		for i := range j.Entries {
			j.Entries[i].MadeAt = at(10 * i)
		}
		var out []store.TimelineEvent
		for i, k := range kept {
			e := (*es)[k]
			e.CreatedAt = at(created[i])
			out = append(out, e)
		}
		*es = out
		*as = arrivals(*es)
	}
	cases = append(cases, []struct {
		name  string
		spoil func(j *graphsim.Journal, es *[]store.TimelineEvent, as *[]Arrival)
		check func(l Ledger) bool
	}{
		{"a Busy event after the last version was made is the last version's: the earlier Busy was overtaken", func(j *graphsim.Journal, es *[]store.TimelineEvent, as *[]Arrival) {
			recurring(j, es, as, []int{0, 3}, 1, 31)
		}, func(l Ledger) bool { return l.Delivered == 2 && l.Overtaken == 2 && l.Lost == 0 }},
		{"a Busy event before the last version was made is not the last version's: that one is lost", func(j *graphsim.Journal, es *[]store.TimelineEvent, as *[]Arrival) {
			recurring(j, es, as, []int{0, 1}, 1, 11)
		}, func(l Ledger) bool { return l.Delivered == 2 && l.Lost == 2 && l.Overtaken == 0 }},
	}...)
	// A subscription lapsed: the product dropped versions 3 and 4 (its
	// inbox held them for a subscription since replaced) and re-read the
	// user, finding a state Graph never notified (no subscription then).
	repaired := func(j *graphsim.Journal, es *[]store.TimelineEvent, as *[]Arrival, readAt int) {
		recurring(j, es, as, []int{0, 1}, 1, 11)
		*es = append(*es, store.TimelineEvent{UID: uuid.New(), Sequence: 3, Availability: "DoNotDisturb", Activity: "DoNotDisturb", Source: "repair",
			ObservedAt: at(readAt), CreatedAt: at(readAt), Deliveries: []store.TimelineDelivery{{EndpointURL: endpoint, Status: store.DeliveryDelivered}}})
		*as = arrivals(*es)
	}
	cases = append(cases, []struct {
		name  string
		spoil func(j *graphsim.Journal, es *[]store.TimelineEvent, as *[]Arrival)
		check func(l Ledger) bool
	}{
		{"versions never applied but older than a re-read were overtaken by the repair", func(j *graphsim.Journal, es *[]store.TimelineEvent, as *[]Arrival) {
			repaired(j, es, as, 45)
		}, func(l Ledger) bool {
			return l.Delivered == 2 && l.Overtaken == 2 && l.ByRepair == 2 && l.Lost == 0 && l.FinalDelivered == 1
		}},
		{"a re-read made before the last version does not cover it", func(j *graphsim.Journal, es *[]store.TimelineEvent, as *[]Arrival) {
			repaired(j, es, as, 25)
		}, func(l Ledger) bool { return l.ByRepair == 1 && l.Lost == 1 && l.FinalDelivered == 0 }},
	}...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j, es := journal(), events()
			as := arrivals(es)
			c.spoil(&j, &es, &as)
			backlog := 0
			if strings.Contains(c.name, "unprocessed") {
				backlog = 1
			}
			o := observed{journal: j, tenant: tenant, history: map[uuid.UUID][]store.TimelineEvent{user: es}, backlog: backlog,
				arrivals: as, endpoint: endpoint}
			if strings.Contains(c.name, "quarantine") {
				o.quarantine = []store.QuarantinedInboxRow{{ID: 7, Items: 1, Attempts: 10, Reason: "failed",
					Payload: []byte(`{"value":[{"resourceData":{"id":"` + user.String() + `"}}]}`)}}
			}
			l := account(o)
			if !c.check(l) {
				t.Errorf("%s\n%s", l.Summary(), strings.Join(l.Problems, "\n"))
			}
		})
	}
}
