package deliver

import (
	"testing"
	"time"

	"presencebridge/internal/presence"
	"presencebridge/internal/store"
)

func TestLatencyLeavesOutADebounceHoldAndTheWaitForAReplay(t *testing.T) {
	received := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	recorded := received.Add(5 * time.Millisecond) // the processor's transaction
	for _, c := range []struct {
		name  string
		made  time.Time // the delivery's ScheduleStart
		ready time.Time
	}{
		{"published at once: from our receipt", recorded, received},
		{"held 3 s by the debounce: from our receipt, less the hold", recorded.Add(3 * time.Second), received.Add(3 * time.Second)},
		{"replayed a day later: from our receipt, less the wait", recorded.Add(24 * time.Hour), received.Add(24 * time.Hour)},
	} {
		dl := store.Delivery{ScheduleStart: c.made, EventRecorded: recorded, Event: presence.EventData{ObservedAt: received}}
		if got := ready(dl); !got.Equal(c.ready) {
			t.Errorf("%s: ready at %v, want %v", c.name, got.Sub(received), c.ready.Sub(received))
		}
	}
}
