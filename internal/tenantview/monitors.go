package tenantview

import (
	"context"

	"github.com/google/uuid"

	"presencebridge/internal/shard"
	"presencebridge/internal/store"
)

// Monitor is a presence monitor as the pages and the tenant API show it.
type Monitor struct {
	store.Monitor
	// Users is how many users its subscription covers (resolved users
	// assigned to it).
	Users int
	// Capacity is how many users it can cover: the deployment's per-monitor
	// capacity when authorized, else 0.
	Capacity int
	// Subscription is its Graph subscription; HasSubscription is false
	// when it has none.
	Subscription    store.MonitorSubscription
	HasSubscription bool
}

// Reason says why a monitor that is not authorized is not, in words for
// the tenant's admin: the failure recorded on it, or what it waits for.
func (m Monitor) Reason() string {
	switch {
	case m.Status == store.MonitorAuthorized:
		return ""
	case m.LastError != "":
		return m.LastError
	case m.Status == store.MonitorPending:
		return "It has not signed in yet."
	case m.Status == store.MonitorNeedsReauth:
		return "Its sign-in no longer works."
	case m.Status == store.MonitorNeedsUpdate:
		return "The app registration changed since it signed in."
	case m.Status == store.MonitorDisabled:
		return "It was turned off."
	}
	return ""
}

// Capacity is whether the tenant's monitors are enough for its users.
type Capacity struct {
	// Users are those that take a monitor's place: resolved, or still
	// being looked up (not those that were not found).
	Users      int
	PerMonitor int // users one monitor covers here
	// Needed is how many authorized monitors cover Users, with a spare
	// (shard.MonitorsNeeded); Authorized how many there are; More how
	// many more to add (0 when enough).
	Needed, Authorized, More int
}

// Monitors is the tenant's monitors, oldest first, and their capacity.
type Monitors struct {
	Items    []Monitor
	Capacity Capacity
}

// Monitors reads the tenant's monitors, perMonitor users each
// (graphapi.MaxPresenceIDs minus the deployment's headroom, as the engine
// fills them).
func (r *Reader) Monitors(ctx context.Context, tenantID uuid.UUID, perMonitor int) (Monitors, error) {
	var out Monitors
	ms, err := r.st.Monitors(ctx, tenantID)
	if err != nil {
		return out, err
	}
	// One pass over the roster gives both the monitors' loads and the
	// users to cover.
	counts, err := r.st.RosterCounts(ctx, tenantID)
	if err != nil {
		return out, err
	}
	subs, err := r.st.MonitorSubscriptions(ctx, tenantID)
	if err != nil {
		return out, err
	}
	out.Items = make([]Monitor, 0, len(ms))
	for _, m := range ms {
		sub, ok := subs[m.ID]
		v := Monitor{Monitor: m, Users: counts.Loads[m.ID], Subscription: sub, HasSubscription: ok}
		if m.Status == store.MonitorAuthorized {
			v.Capacity = perMonitor
			out.Capacity.Authorized++
		}
		out.Items = append(out.Items, v)
	}
	c := &out.Capacity
	c.Users, c.PerMonitor = counts.Users.Monitored+counts.Users.Unmonitored+counts.Users.Pending, perMonitor
	c.Needed = shard.MonitorsNeeded(c.Users, perMonitor)
	c.More = max(0, c.Needed-c.Authorized)
	return out, nil
}
