package engine

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
)

// Integration tests against graphsim live in internal/graph (the only
// package that may link msgraph-sdk-go); these check the pure parts.

func TestEachMonitorListsTheSameUsersInItsOwnOrder(t *testing.T) {
	users := []string{"a", "b", "c", "d", "e", "f"}
	m1, m2 := uuid.New(), uuid.New()
	o1, o2 := orderFor(m1, users), orderFor(m2, users)
	if slices.Equal(o1, o2) {
		t.Error("two monitors order six users the same way")
	}
	if !slices.Equal(orderFor(m1, []string{"f", "e", "d", "c", "b", "a"}), o1) {
		t.Error("a monitor's order depends on the input order")
	}
	sorted := slices.Clone(o1)
	slices.Sort(sorted)
	if !slices.Equal(sorted, users) {
		t.Errorf("order %v is not a permutation of %v", o1, users)
	}
}

func TestARenewalIsDueAtTheSubscriptionsOwnPhaseAtLeastTenMinutesBeforeExpiry(t *testing.T) {
	seen := map[time.Duration]bool{}
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, time.UTC)
	for i := range 400 {
		id := uuid.New()
		made := now.Add(time.Duration(i) * 7 * time.Second)
		expires := made.Add(Lifetime)
		due := renewDue(id, expires)
		if before := expires.Sub(due); before < RenewLatest || before >= RenewLatest+RenewEvery {
			t.Fatalf("due %v before expiry, want %v–%v", before, RenewLatest, RenewLatest+RenewEvery)
		}
		if !due.After(made.Add(5 * time.Minute)) {
			t.Fatalf("a subscription just made is due %v later, want more than 5 minutes", due.Sub(made))
		}
		if phase := time.Duration(due.UnixNano() % int64(RenewEvery)); phase != renewPhase(id) {
			t.Fatalf("due at phase %v of %v, want its own %v", phase, RenewEvery, renewPhase(id))
		}
		// Renewed when due, or a pass later, it is next due one RenewEvery on.
		for _, late := range []time.Duration{0, time.Minute} {
			if next := renewDue(id, due.Add(late).Add(Lifetime)); next.Sub(due) != RenewEvery {
				t.Fatalf("renewed %v after its point, next due %v after it, want %v", late, next.Sub(due), RenewEvery)
			}
		}
		seen[renewPhase(id)/time.Minute] = true
	}
	if len(seen) < 36 {
		t.Errorf("the phases of 400 subscriptions fall in only %d distinct minutes of %v", len(seen), RenewEvery)
	}
}

// Issue 16's fleet after a cold start: 1,540 subscriptions made within
// three minutes, the engine passing every minute (PB_ENGINE_INTERVAL's
// default) for three hours. Renewals must spread over every hour, the
// first included — max/mean of renewals per minute ≤ 2 — and none lapse.
func TestRenewalsOf1540SubscriptionsMadeWithinThreeMinutesSpreadEvenlyOverEveryHour(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 1540))
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	type sub struct {
		id               uuid.UUID
		created, expires time.Time
	}
	subs := make([]sub, 1540)
	for i := range subs {
		var id uuid.UUID
		binary.LittleEndian.PutUint64(id[:8], r.Uint64())
		binary.LittleEndian.PutUint64(id[8:], r.Uint64())
		created := t0.Add(time.Duration(i%3) * time.Minute)
		subs[i] = sub{id: id, created: created, expires: created.Add(Lifetime)}
	}
	var hours [3][60]int
	for m := range 180 {
		now := t0.Add(time.Duration(m) * time.Minute)
		for i := range subs {
			s := &subs[i]
			if now.Before(s.created) {
				continue
			}
			if !now.Before(s.expires) {
				t.Fatalf("minute %d: a subscription lapsed", m)
			}
			if !now.Before(renewDue(s.id, s.expires)) {
				hours[m/60][m%60]++
				s.expires = now.Add(Lifetime)
			}
		}
	}
	for h, perMinute := range hours {
		most, total := 0, 0
		for _, n := range perMinute {
			most, total = max(most, n), total+n
		}
		mean := float64(total) / 60
		t.Logf("hour %d: renewals per minute max %d, mean %.1f, max/mean %.2f", h+1, most, mean, float64(most)/mean)
		if float64(most) > 2*mean {
			t.Errorf("hour %d: renewals per minute max %d, mean %.1f (max/mean %.1f, want ≤ 2): %v", h+1, most, mean, float64(most)/mean, perMinute)
		}
	}
}

// The sample a digest carries (buildMeaning) is placed and spelled the
// same every time — shard.Assign ranges over maps — or no digest would
// match after a restart; and it shows a placement: a resource for each of
// the three monitors, the sample's eight users each in one of them.
func TestAPlacementSampleIsTheSameEveryTime(t *testing.T) {
	first := placementSample()
	for range 50 {
		if again := placementSample(); !slices.Equal(again, first) {
			t.Fatalf("the sample differs from one time to the next:\n%q\n%q", first, again)
		}
	}
	resources := strings.Split(strings.TrimSuffix(string(first), "\x00"), "\x00")
	users := 0
	for _, r := range resources {
		if ids, ok := graphapi.PresenceResourceIDs(r); ok {
			users += len(ids)
		}
	}
	if len(resources) != 3 || users != 8 {
		t.Fatalf("sample %q: %d resources covering %d users, want 3 covering 8", first, len(resources), users)
	}
}
