package shard

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"presencebridge/internal/graph/graphapi"
)

func users(n int, prefix string) []User {
	out := make([]User, n)
	for i := range out {
		out[i] = User{ID: fmt.Sprintf("%s%07d", prefix, i)}
	}
	return out
}

func monitors(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("m%04d", i)
	}
	return out
}

// apply returns the users with their new monitors, as the next input.
func apply(in Input, r Result) []User {
	out := make([]User, len(in.Users))
	for i, u := range in.Users {
		out[i] = User{ID: u.ID, Monitor: r.Monitor[i]}
	}
	return out
}

// check verifies the invariants every result must hold.
func check(t *testing.T, in Input, r Result) {
	t.Helper()
	limit := in.Cap
	if limit <= 0 {
		limit = graphapi.MaxPresenceIDs
	}
	healthy := map[string]bool{}
	for _, m := range in.Monitors {
		healthy[m] = true
	}
	load := map[string]int{}
	unmonitored := 0
	for i, m := range r.Monitor {
		if m == "" {
			unmonitored++
			continue
		}
		if !healthy[m] {
			t.Fatalf("user %s assigned to unhealthy monitor %s", in.Users[i].ID, m)
		}
		load[m]++
	}
	for m, n := range load {
		if n > limit {
			t.Fatalf("monitor %s has %d users, over the cap %d", m, n, limit)
		}
		if r.Load[m] != n {
			t.Fatalf("Load[%s] = %d, counted %d", m, r.Load[m], n)
		}
	}
	if unmonitored != r.Unmonitored {
		t.Fatalf("Unmonitored = %d, counted %d", r.Unmonitored, unmonitored)
	}
	if unmonitored > 0 {
		for _, m := range in.Monitors {
			if load[m] < limit {
				t.Fatalf("%d users unmonitored while %s has room (%d)", unmonitored, m, load[m])
			}
		}
	}
	if want := (unmonitored + limit - 1) / limit; r.MonitorsMissing != want {
		t.Fatalf("MonitorsMissing = %d, want %d", r.MonitorsMissing, want)
	}
}

func TestFreshAssignmentIsBalancedWithinOneUser(t *testing.T) {
	for _, c := range []struct{ users, monitors int }{{2000, 4}, {2001, 4}, {7, 3}, {650, 1}, {0, 2}} {
		in := Input{Users: users(c.users, "u"), Monitors: monitors(c.monitors)}
		r := Assign(in)
		check(t, in, r)
		lo, hi := c.users, 0
		for _, m := range in.Monitors {
			lo, hi = min(lo, r.Load[m]), max(hi, r.Load[m])
		}
		if hi-lo > 1 {
			t.Errorf("%d users over %d monitors: loads from %d to %d", c.users, c.monitors, lo, hi)
		}
		if r.Moved != c.users || r.Unmonitored != 0 {
			t.Errorf("%+v: moved %d unmonitored %d", c, r.Moved, r.Unmonitored)
		}
	}
}

func TestCapAndUnmonitoredReport(t *testing.T) {
	in := Input{Users: users(2000, "u"), Monitors: monitors(3)}
	r := Assign(in)
	check(t, in, r)
	if r.Unmonitored != 50 || r.MonitorsMissing != 1 {
		t.Errorf("2000 users over 3 monitors: unmonitored %d, missing %d; want 50, 1", r.Unmonitored, r.MonitorsMissing)
	}
	// Headroom: a cap of 600 leaves room for growth.
	in.Cap = 600
	r = Assign(in)
	check(t, in, r)
	if r.Unmonitored != 200 || r.MonitorsMissing != 1 {
		t.Errorf("cap 600: unmonitored %d, missing %d", r.Unmonitored, r.MonitorsMissing)
	}
	// No monitors at all.
	r = Assign(Input{Users: users(1301, "u")})
	if r.Unmonitored != 1301 || r.MonitorsMissing != 3 {
		t.Errorf("no monitors: unmonitored %d, missing %d", r.Unmonitored, r.MonitorsMissing)
	}
}

func TestAddingAndRemovingUsersMovesNobodyElse(t *testing.T) {
	in := Input{Users: users(1500, "u"), Monitors: monitors(4)}
	first := Assign(in)
	current := apply(in, first)
	// Remove every tenth user and add 100 new ones.
	var next []User
	for i, u := range current {
		if i%10 != 0 {
			next = append(next, u)
		}
	}
	kept := len(next)
	next = append(next, users(100, "new")...)
	in2 := Input{Users: next, Monitors: in.Monitors}
	r := Assign(in2)
	check(t, in2, r)
	for i := range kept {
		if r.Changed(in2, i) {
			t.Fatalf("existing user %s moved from %s to %s", next[i].ID, next[i].Monitor, r.Monitor[i])
		}
	}
	if r.Moved != 100 {
		t.Errorf("moved %d, want only the 100 new users", r.Moved)
	}
	// New users fill the least-loaded monitors.
	before := map[string]int{}
	for _, u := range next[:kept] {
		before[u.Monitor]++
	}
	minBefore := kept
	for _, m := range in.Monitors {
		minBefore = min(minBefore, before[m])
	}
	for _, m := range in.Monitors {
		if before[m] > minBefore+100 && r.Load[m] != before[m] {
			t.Errorf("monitor %s (already %d, least %d) took new users", m, before[m], minBefore)
		}
	}
}

func TestAFailedMonitorsUsersMoveToMonitorsWithRoom(t *testing.T) {
	in := Input{Users: users(1800, "u"), Monitors: monitors(4)} // 450 each
	current := apply(in, Assign(in))
	failed := in.Monitors[1]
	in2 := Input{Users: current, Monitors: []string{in.Monitors[0], in.Monitors[2], in.Monitors[3]}}
	r := Assign(in2)
	check(t, in2, r)
	for i, u := range current {
		if u.Monitor != failed && r.Changed(in2, i) {
			t.Fatalf("user %s of a healthy monitor moved", u.ID)
		}
		if u.Monitor == failed && r.Monitor[i] == "" {
			t.Fatalf("user %s of the failed monitor was dropped although there is room", u.ID)
		}
	}
	if r.Moved != 450 || r.Unmonitored != 0 {
		t.Errorf("moved %d unmonitored %d, want 450 and 0", r.Moved, r.Unmonitored)
	}
	// With less room, the rest are reported.
	in3 := Input{Users: current, Monitors: []string{in.Monitors[0], in.Monitors[2]}}
	r = Assign(in3)
	check(t, in3, r)
	if r.Unmonitored != 1800-1300 || r.MonitorsMissing != 1 {
		t.Errorf("two monitors left: unmonitored %d missing %d", r.Unmonitored, r.MonitorsMissing)
	}
}

func TestALoweredCapMovesOnlyTheExcess(t *testing.T) {
	in := Input{Users: users(1300, "u"), Monitors: monitors(2)} // 650 each
	current := apply(in, Assign(in))
	in2 := Input{Users: current, Monitors: append(monitors(2), "spare"), Cap: 600}
	r := Assign(in2)
	check(t, in2, r)
	if r.Moved != 100 || r.Load["spare"] != 100 {
		t.Errorf("moved %d, spare %d; want the 100 over the new cap moved to the spare", r.Moved, r.Load["spare"])
	}
}

func TestRandomOperationsKeepTheInvariants(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	current := users(3000, "u")
	all := monitors(8)
	next := 0
	for step := range 200 {
		// Random healthy subset of monitors.
		var healthy []string
		for _, m := range all {
			if rnd.IntN(5) > 0 {
				healthy = append(healthy, m)
			}
		}
		// Random users leave and join.
		var us []User
		for _, u := range current {
			if rnd.IntN(50) > 0 {
				us = append(us, u)
			}
		}
		for range rnd.IntN(80) {
			us = append(us, User{ID: fmt.Sprintf("n%d", next)})
			next++
		}
		in := Input{Users: us, Monitors: healthy, Cap: 500 + rnd.IntN(151)}
		r := Assign(in)
		check(t, in, r)
		isHealthy := map[string]bool{}
		for _, m := range healthy {
			isHealthy[m] = true
		}
		keptPer := map[string]int{}
		for i, u := range us {
			// Stability: a user stays unless its monitor failed or is over the cap.
			if u.Monitor != "" && isHealthy[u.Monitor] && r.Changed(in, i) && keptPer[u.Monitor] < in.Cap {
				t.Fatalf("step %d: user %s moved from healthy %s with room", step, u.ID, u.Monitor)
			}
			if u.Monitor != "" && r.Monitor[i] == u.Monitor {
				keptPer[u.Monitor]++
			}
		}
		current = apply(in, r)
	}
}

func BenchmarkAssignMillionUsers(b *testing.B) {
	in := Input{Users: users(1_000_000, "u"), Monitors: monitors(1540)}
	b.ReportAllocs()
	for b.Loop() {
		Assign(in)
	}
}

func BenchmarkReshardAfterOneMonitorFails(b *testing.B) {
	in := Input{Users: users(1_000_000, "u"), Monitors: monitors(1540)}
	current := apply(in, Assign(in))
	failed := Input{Users: current, Monitors: append(append([]string{}, in.Monitors[:700]...), in.Monitors[701:]...)}
	b.ReportAllocs()
	for b.Loop() {
		Assign(failed)
	}
}
