// Package shard assigns a tenant's monitored users to its presence
// monitors. Graph lets each monitor account hold one presence subscription
// of at most graphapi.MaxPresenceIDs users, so users are spread over
// monitors with these rules:
//
//   - Cap: no monitor gets more than Cap users (graphapi.MaxPresenceIDs
//     minus a headroom).
//   - Stability: a user whose monitor is still healthy and within the cap
//     stays where it is; adding or removing users never moves anyone else.
//   - New users, and users of a monitor that failed or was removed, go to
//     the least-loaded healthy monitor (ties: the monitor listed first).
//   - Users that fit nowhere are reported unmonitored, with the number of
//     monitors missing, never silently dropped.
//
// Assign is a pure function over slices, fast enough for a million users.
package shard

import (
	"container/heap"

	"presencebridge/internal/graph/graphapi"
)

// Input is one tenant's roster and monitors.
type Input struct {
	// Users are the users to monitor, each with the monitor it is assigned
	// to now ("" if none). Their order decides who is placed first.
	Users []User
	// Monitors are the healthy, authorized monitors that may take users,
	// in order of preference for ties.
	Monitors []string
	// Cap is the most users per monitor (default graphapi.MaxPresenceIDs; a
	// headroom is Cap = graphapi.MaxPresenceIDs - headroom).
	Cap int
}

// User is a user to monitor and its current monitor.
type User struct {
	ID      string
	Monitor string
}

// Result is an assignment.
type Result struct {
	// Monitor[i] is Users[i]'s monitor, "" when unmonitored.
	Monitor []string
	// Load counts users per monitor.
	Load map[string]int
	// Moved counts users whose monitor changed (placed for the first time
	// included); Unmonitored counts users without one.
	Moved       int
	Unmonitored int
	// MonitorsMissing is how many more monitors would place every user.
	MonitorsMissing int
}

// Changed reports whether user i's monitor differs from its input.
func (r Result) Changed(in Input, i int) bool { return r.Monitor[i] != in.Users[i].Monitor }

// Assign computes the assignment.
func Assign(in Input) Result {
	limit := in.Cap
	if limit <= 0 || limit > graphapi.MaxPresenceIDs {
		limit = graphapi.MaxPresenceIDs
	}
	idx := make(map[string]int32, len(in.Monitors))
	for i, m := range in.Monitors {
		if _, dup := idx[m]; !dup {
			idx[m] = int32(i)
		}
	}
	load := make([]int, len(in.Monitors))
	res := Result{Monitor: make([]string, len(in.Users))}
	pending := make([]int32, 0, 64)
	// Keep everyone whose monitor is healthy and has room, in input order.
	for i, u := range in.Users {
		if u.Monitor != "" {
			if m, ok := idx[u.Monitor]; ok && load[m] < limit {
				load[m]++
				res.Monitor[i] = u.Monitor
				continue
			}
		}
		pending = append(pending, int32(i))
	}
	// Place the rest on the least-loaded monitors.
	h := &loads{load: load}
	for m := range in.Monitors {
		if idx[in.Monitors[m]] == int32(m) && load[m] < limit {
			h.order = append(h.order, int32(m))
		}
	}
	heap.Init(h)
	for n, i := range pending {
		if h.Len() == 0 {
			res.Unmonitored = len(pending) - n
			for _, j := range pending[n:] {
				if in.Users[j].Monitor != "" {
					res.Moved++
				}
			}
			break
		}
		m := h.order[0]
		res.Monitor[i] = in.Monitors[m]
		res.Moved++
		load[m]++
		if load[m] >= limit {
			heap.Pop(h)
		} else {
			heap.Fix(h, 0)
		}
	}
	res.Load = make(map[string]int, len(in.Monitors))
	for m, name := range in.Monitors {
		if idx[name] == int32(m) {
			res.Load[name] = load[m]
		}
	}
	res.MonitorsMissing = (res.Unmonitored + limit - 1) / limit
	return res
}

// loads is a min-heap of monitor indexes by load, then by index.
type loads struct {
	order []int32
	load  []int
}

func (h *loads) Len() int { return len(h.order) }
func (h *loads) Less(a, b int) bool {
	la, lb := h.load[h.order[a]], h.load[h.order[b]]
	return la < lb || (la == lb && h.order[a] < h.order[b])
}
func (h *loads) Swap(a, b int) { h.order[a], h.order[b] = h.order[b], h.order[a] }
func (h *loads) Push(x any)    { h.order = append(h.order, x.(int32)) }
func (h *loads) Pop() any {
	x := h.order[len(h.order)-1]
	h.order = h.order[:len(h.order)-1]
	return x
}

// Spare is the monitor a tenant keeps beyond what its users fill, so a
// failing monitor's users have somewhere to go at once.
const Spare = 1

// MonitorsNeeded is how many authorized monitors cover users at capacity
// users each (0 or more than graphapi.MaxPresenceIDs: MaxPresenceIDs),
// plus the Spare.
func MonitorsNeeded(users, capacity int) int {
	if capacity <= 0 || capacity > graphapi.MaxPresenceIDs {
		capacity = graphapi.MaxPresenceIDs
	}
	return (users+capacity-1)/capacity + Spare
}
