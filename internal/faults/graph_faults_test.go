//go:build faults

package faults

import (
	"context"
	"testing"
	"time"

	"presencebridge/internal/graphsim"
)

// (f) Graph delivers late, twice and out of order, as an at-least-once
// service may: notifications held back 1.5 s while later ones overtake
// them, pairs swapped, acknowledged POSTs sent again. The product applies
// each user's newest version (Graph's sequenceNumber), sends a version
// once, and nothing acknowledged is lost.
func TestGraphDelayedDuplicatedAndReorderedNotificationsLoseNothing(t *testing.T) {
	s := sized()
	w := Start(t, Options{Users: s.users})
	ctx := context.Background()
	n := int(s.rate * s.load.Seconds() / 2) // each fault touches about a quarter of the traffic
	for _, f := range []graphsim.NotificationFault{{Delay: n, DelayMS: 1500}, {Reorder: n}, {Duplicate: n}} {
		if _, err := w.Graph.AddFault(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d presence changes", w.For(s.rate, 2*s.load))
	l := w.Settle(60 * time.Second)
	w.Check(l, Expect{Overtaken: true})

	j, err := w.Graph.Journal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	twice, late := 0, 0
	for i, e := range j.Entries {
		if e.Acks > 1 {
			twice++
		}
		// Acknowledged after a later version of the same user was.
		for _, x := range j.Entries[i+1:] {
			if x.UserID == e.UserID && e.AckedAt != nil && x.AckedAt != nil && x.AckedAt.Before(*e.AckedAt) {
				late++
				break
			}
		}
	}
	t.Logf("graphsim acknowledged %d notifications twice and %d after a later one of the same user", twice, late)
	if twice == 0 || late == 0 {
		t.Errorf("the faults did not bite: %d duplicated, %d overtaken", twice, late)
	}
}
