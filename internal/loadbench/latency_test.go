package loadbench

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graphsim"
)

func TestEachWebhookIsTimedFromThePostOfTheNotificationItCarried(t *testing.T) {
	ann, bob := uuid.New(), uuid.New()
	index := map[uuid.UUID]int32{ann: 0, bob: 1}
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	at := func(ms int) *time.Time { x := t0.Add(time.Duration(ms) * time.Millisecond); return &x }
	j := graphsim.Journal{Entries: []graphsim.JournalEntry{
		{UserID: ann.String(), Activity: "Busy", PostedAt: at(0), Acks: 1, AckTook: 4 * time.Millisecond},
		{UserID: ann.String(), Activity: "Away", PostedAt: at(100), Acks: 1, AckTook: 6 * time.Millisecond},
		{UserID: bob.String(), Activity: "Busy", PostedAt: at(50), Acks: 1, AckTook: 2 * time.Millisecond},
		{UserID: bob.String(), Activity: "Away", PostedAt: at(60)}, // never acknowledged
	}}
	got := []arrival{
		{user: 0, activity: "Busy", source: "notification", at: t0.Add(30 * time.Millisecond)},  // 30 ms
		{user: 0, activity: "Away", source: "notification", at: t0.Add(110 * time.Millisecond)}, // 10 ms
		{user: 1, activity: "Busy", source: "notification", at: t0.Add(70 * time.Millisecond)},  // 20 ms
		{user: 1, activity: "Busy", source: "repair", at: t0.Add(90 * time.Millisecond)},        // not Graph's
		{user: 0, activity: "Available", source: "notification", at: t0.Add(120 * time.Millisecond)},
	}
	p := measureLatency(1000, time.Second, j, got, index)
	if p.Notifications != 4 || p.Acked != 3 || p.Delivered != 5 || p.Matched != 3 {
		t.Errorf("counts: %+v", p)
	}
	if p.P50 != 20*time.Millisecond || p.P99 != 30*time.Millisecond {
		t.Errorf("p50 %s, p99 %s; want 20 ms and 30 ms", p.P50, p.P99)
	}
	if p.AckP50 != 4*time.Millisecond || p.AckP99 != 6*time.Millisecond {
		t.Errorf("ack p50 %s, p99 %s; want 4 ms and 6 ms", p.AckP50, p.AckP99)
	}
	// All three matched were first posted in the phase's first second, as
	// were the three acknowledged (2, 4 and 6 ms).
	if want := "     0         3     20.0     30.0     30.0       6.0      6.0\n"; !strings.HasSuffix(p.Timeline, want) {
		t.Errorf("timeline:\n%s\nwant its one second as %q", p.Timeline, want)
	}
	// Three acknowledged from the first POST (0 ms) to the last ack (106 ms).
	if want := 3 / 0.106; p.IntakeRate < want-0.01 || p.IntakeRate > want+0.01 {
		t.Errorf("intake %.2f/s, want %.2f", p.IntakeRate, want)
	}
}

func TestPercentileIsTheNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i))
	}
	if Percentile(ds, 50) != 50 || Percentile(ds, 99) != 99 || Percentile(ds, 100) != 100 || Percentile(nil, 50) != 0 {
		t.Errorf("p50 %d, p99 %d, p100 %d", Percentile(ds, 50), Percentile(ds, 99), Percentile(ds, 100))
	}
	if ds[0] != 100 {
		t.Error("Percentile sorted the caller's slice")
	}
}
