package enginetest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"presencebridge/internal/engine"
)

// After a restart that finds many subscriptions due, the ones closest to
// expiry go first: across tenants (the pass's order) and within a tenant
// (its monitors' order). In a random order, a restart with thousands due
// renews some minutes after others that had longer to live, and those
// closest to expiry lapse while it works. One tenant at a time, so the
// order of the renewals is the order of the work; a tenant is worked on as
// a whole (its lock), so the order is by tenant — the one with the
// earliest expiry first — and by subscription within it.
func TestARestartRenewsTheSubscriptionsClosestToExpiryFirst(t *testing.T) {
	f := newFleet(t, fleetOptions{monitors: []int{3, 3, 3, 3, 3, 3}, usersPer: 2})
	one := func(o *engine.RunnerOptions) { o.Parallel = 1 }
	if err := f.runner(one).Cycle(t.Context()); err != nil {
		t.Fatal(err)
	}
	// By Graph's id, as the cold start left them: the expiry and the
	// tenant (the index of the monitor's tenant in f.tenants).
	expiry := map[string]time.Time{}
	tenantOf := map[string]int{}
	byCreator := map[string]int{}
	for i, ft := range f.tenants {
		for _, m := range ft.ms.Monitors {
			byCreator[m.ID.String()] = i
		}
	}
	earliest := make([]time.Time, len(f.tenants))
	var last time.Time
	for _, s := range f.e.Sim.Subscriptions() {
		exp, _ := time.Parse(time.RFC3339Nano, s.ExpirationDateTime)
		i := byCreator[s.CreatorID]
		expiry[s.ID], tenantOf[s.ID] = exp, i
		if earliest[i].IsZero() || exp.Before(earliest[i]) {
			earliest[i] = exp
		}
		if exp.After(last) {
			last = exp
		}
	}
	if len(expiry) != 18 {
		t.Fatalf("%d subscriptions after the cold start, want 18", len(expiry))
	}
	f.e.Advance(last.Add(-engine.RenewLatest).Sub(f.e.Now()))
	restart := f.e.Now()
	if err := f.runner(one).Cycle(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A tenant at a time (its lock): tenants in the order of their
	// earliest expiry, and within each its subscriptions by expiry.
	var prev, prevEarliest time.Time
	current, renewed := -1, 0
	for _, r := range f.wire.subscriptionWrites(http.MethodPatch, restart) {
		id := r.Path[strings.LastIndex(r.Path, "/")+1:]
		exp, ok := expiry[id]
		if !ok || r.Status != http.StatusOK {
			continue
		}
		renewed++
		if i := tenantOf[id]; i != current {
			if earliest[i].Before(prevEarliest) {
				t.Errorf("renewal %d: a tenant whose first subscription expires at %v taken after one whose first expires at %v",
					renewed, earliest[i].Format(time.TimeOnly+".000"), prevEarliest.Format(time.TimeOnly+".000"))
			}
			current, prevEarliest, prev = i, earliest[i], time.Time{}
		}
		if exp.Before(prev) {
			t.Errorf("renewal %d: a subscription expiring at %v renewed after one of its tenant expiring at %v", renewed,
				exp.Format(time.TimeOnly+".000"), prev.Format(time.TimeOnly+".000"))
		}
		prev = exp
	}
	if renewed != 18 {
		t.Errorf("%d subscriptions renewed after the restart, want 18", renewed)
	}
}
