package loadbench

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graphsim"
)

// arrival is one webhook as the run keeps it.
type arrival struct {
	user             int32
	activity, source string
	at               time.Time
}

// measureLatency matches each webhook of the phase to the notification it
// carried — the user's journal entry with the same activity posted last
// before the arrival — and gives the percentiles.
func measureLatency(rate float64, driven time.Duration, j graphsim.Journal, got []arrival, index map[uuid.UUID]int32) Phase {
	p := Phase{Rate: rate, Driven: driven, Notifications: len(j.Entries)}
	byUser := map[int32][]graphsim.JournalEntry{}
	var acks []time.Duration
	var acked []time.Time // acks[i]'s notification's first POST
	var first, lastAck time.Time
	for _, e := range j.Entries {
		if e.Acks > 0 {
			p.Acked++
			if e.PostedAt != nil {
				acks, acked = append(acks, e.AckTook), append(acked, *e.PostedAt)
			}
			if e.PostedAt != nil && (first.IsZero() || e.PostedAt.Before(first)) {
				first = *e.PostedAt
			}
			if e.PostedAt != nil && e.PostedAt.Add(e.AckTook).After(lastAck) {
				lastAck = e.PostedAt.Add(e.AckTook)
			}
		}
		id, err := uuid.Parse(e.UserID)
		if err != nil || e.PostedAt == nil {
			continue
		}
		if i, ok := index[id]; ok {
			byUser[i] = append(byUser[i], e)
		}
	}
	var lat []time.Duration
	var posted []time.Time // lat[i]'s notification's first POST
	for _, a := range got {
		if a.source != "notification" {
			continue
		}
		var best *graphsim.JournalEntry
		for k, e := range byUser[a.user] {
			if e.Activity == a.activity && !e.PostedAt.After(a.at) && (best == nil || e.PostedAt.After(*best.PostedAt)) {
				best = &byUser[a.user][k]
			}
		}
		if best != nil {
			lat, posted = append(lat, a.at.Sub(*best.PostedAt)), append(posted, *best.PostedAt)
		}
	}
	p.Delivered = len(got)
	p.Matched = len(lat)
	p.P50, p.P99 = Percentile(lat, 50), Percentile(lat, 99)
	p.AckP50, p.AckP99 = Percentile(acks, 50), Percentile(acks, 99)
	if span := lastAck.Sub(first); span > 0 {
		p.IntakeRate = float64(p.Acked) / span.Seconds()
	}
	p.Timeline = timeline(bySecond(first, posted, lat), bySecond(first, acked, acks))
	return p
}

// bySecond groups durations by the second their notifications were first
// posted (at[i], from first).
func bySecond(first time.Time, at []time.Time, d []time.Duration) [][]time.Duration {
	var secs [][]time.Duration
	for i, t := range at {
		s := max(0, int(t.Sub(first)/time.Second))
		for len(secs) <= s {
			secs = append(secs, nil)
		}
		secs[s] = append(secs[s], d[i])
	}
	return secs
}

// timeline is the latencies by the second their notifications were first
// posted: how many, p50, p99 and the slowest — whether a phase's p99 is a
// few stalls or every second alike — beside the p99 and slowest of
// Graph's wait for our 202 (acks): whether a stall was the intake's
// commit or came after it.
func timeline(lat, acks [][]time.Duration) string {
	var b strings.Builder
	b.WriteString("second  webhooks   p50 ms   p99 ms   max ms   ack p99  ack max\n")
	for s, ds := range lat {
		var as []time.Duration
		if s < len(acks) {
			as = acks[s]
		}
		fmt.Fprintf(&b, "%6d %9d %8.1f %8.1f %8.1f %9.1f %8.1f\n", s, len(ds), msOf(Percentile(ds, 50)), msOf(Percentile(ds, 99)), msOf(Percentile(ds, 100)),
			msOf(Percentile(as, 99)), msOf(Percentile(as, 100)))
	}
	return b.String()
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
