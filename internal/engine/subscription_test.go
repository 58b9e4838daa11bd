package engine

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
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

func TestRenewalPointsSpreadOverTenToTwentyMinutes(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 200 {
		d := renewAt(uuid.New())
		if d < RenewLatest || d >= RenewEarliest {
			t.Fatalf("renewAt = %v, outside 10–20 min", d)
		}
		seen[d/time.Minute] = true
	}
	if len(seen) < 8 {
		t.Errorf("renewal points fall in only %d distinct minutes of ten", len(seen))
	}
	id := uuid.New()
	//lint:ignore SA4000 the same call twice on purpose: renewAt must be a function of the id alone
	if renewAt(id) != renewAt(id) {
		t.Error("a subscription's renewal point moves between calls")
	}
}
