package enginetest

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"
)

// The renewal schedule through the real engine: a fleet laid out as issue
// 16's — 54 % of its tenants with two monitors, the rest with one; at
// 1,000 tenants, 1,540 subscriptions — subscribed from a cold start by one
// worker's passes (one a simulated minute, PB_ENGINE_INTERVAL's default),
// then passes for the rest of the simulated time. Renewals are counted per
// simulated minute as Graph saw them (PATCHes answered 200, stamped with
// graphsim's clock), per hour. The target is issue 16's: max/mean ≤ 2 in
// every hour from the first on, and no subscription lapsing.
//
// PB_FLEET_TENANTS sizes the fleet and PB_FLEET_MINUTES the simulated time
// after the cold start. The default, 50 tenants (77 subscriptions) for an
// hour, is the short form make test runs; BENCHMARKS.md gives the command
// of the full one (1,000 tenants, two hours). At the short form's 1.3–1.9
// renewals a minute, a phase-spread minute is Poisson-noisy beyond twice
// the mean, so the bound there is the mean plus six standard deviations
// (√mean); from a mean of 36 a minute the two agree (1,540 subscriptions
// give 35–38), and the log gives max/mean for issue 16's target. The
// renewals of the old schedule bunched into ten minutes (max/mean 15 at
// either size).
//
// The people per monitor are 2, not 650: the schedule does not depend on
// them, and a million people would be the periodic repair's load, not the
// renewals'. Wall time also passes on graphsim's clock (simtest), so a
// pass that takes longer than a minute delays the next, as in production.

func fleetLayout(tenants int) []int {
	out := make([]int, tenants)
	for i := range out {
		out[i] = 1
		if i < tenants*54/100 {
			out[i] = 2
		}
	}
	return out
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// spread is the renewals of each simulated minute of one hour.
type spread struct {
	perMinute [60]int
}

func (s spread) max() int {
	m := 0
	for _, n := range s.perMinute {
		m = max(m, n)
	}
	return m
}

func (s spread) mean() float64 {
	total := 0
	for _, n := range s.perMinute {
		total += n
	}
	return float64(total) / 60
}

func (s spread) String() string {
	return fmt.Sprintf("max %d, mean %.1f, max/mean %.2f, per minute %v", s.max(), s.mean(), float64(s.max())/s.mean(), s.perMinute)
}

func TestAFleetsRenewalsSpreadEvenlyOverEveryHourFromAColdStartAndNoneLapses(t *testing.T) {
	tenants := envInt(t, "PB_FLEET_TENANTS", 50)
	minutes := envInt(t, "PB_FLEET_MINUTES", 60)
	f := newFleet(t, fleetOptions{monitors: fleetLayout(tenants), usersPer: 2})
	w := f.runner()
	ctx := t.Context()
	start := f.e.Now()
	var lapsed []string
	for step := 0; step <= minutes; step++ {
		if d := start.Add(time.Duration(step) * time.Minute).Sub(f.e.Now()); d > 0 {
			f.e.Advance(d)
		}
		for _, s := range f.lapsed() {
			lapsed = append(lapsed, fmt.Sprintf("%s at %v", s.ID, f.e.Now().Sub(start).Round(time.Second)))
		}
		f.e.Sim.TickNotifications()
		begun := time.Now()
		if err := w.Cycle(ctx); err != nil {
			t.Fatalf("pass at minute %d: %v", step, err)
		}
		if step == 0 {
			t.Logf("cold start: %d subscriptions made in %v of wall time", len(f.wire.subscriptionWrites(http.MethodPost, start)), time.Since(begun))
		}
	}
	subs := f.subscriptions()
	if n := len(f.e.Sim.Subscriptions()); n != subs {
		t.Errorf("graphsim holds %d subscriptions, want %d", n, subs)
	}
	made := f.wire.subscriptionWrites(http.MethodPost, start)
	created := 0
	for _, r := range made {
		if r.Status == http.StatusCreated {
			created++
		}
	}
	if created != subs {
		t.Errorf("%d subscriptions created, want %d: the others replaced one that lapsed", created, subs)
	}
	if len(lapsed) > 0 {
		t.Errorf("%d subscriptions lapsed: %v", len(lapsed), lapsed)
	}
	hours := make([]spread, (minutes+59)/60)
	for _, r := range f.wire.subscriptionWrites(http.MethodPatch, start) {
		if r.Status != http.StatusOK {
			continue
		}
		m := int(r.At.Sub(start) / time.Minute)
		if h := m / 60; h < len(hours) {
			hours[h].perMinute[m%60]++
		}
	}
	for h, s := range hours {
		t.Logf("hour %d: renewals of %d subscriptions: %s", h+1, subs, s)
		if bound := max(2*s.mean(), s.mean()+6*math.Sqrt(s.mean())); s.mean() == 0 || float64(s.max()) > bound {
			t.Errorf("hour %d: renewals per minute %s; want at most %.1f", h+1, s, bound)
		}
	}
}
