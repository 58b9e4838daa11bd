package subscribe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/shard"
	"presencebridge/internal/store"
)

// Clients gives Graph clients for a tenant: one acting as a monitor (it
// holds the monitor's subscription) and one for reading presence in
// repairs (app-only where the tenant granted it, else a monitor's).
type Clients interface {
	Monitor(ctx context.Context, tenantID, monitorID uuid.UUID) (graphapi.Subscriber, error)
	Reader(ctx context.Context, tenantID uuid.UUID) (graphapi.PresenceReader, error)
}

// Report is what one reconciliation of a tenant did.
type Report struct {
	Users, Monitors, Unmonitored, MonitorsMissing int
	Outcomes                                      map[uuid.UUID]Outcome
	Repaired                                      int
	Failed                                        map[uuid.UUID]error
}

// Reconciler brings a tenant's subscriptions in line with its roster.
type Reconciler struct {
	st      *store.Store
	eng     *Engine
	clients Clients
	cap     int
	logger  *slog.Logger
}

// NewReconciler returns a Reconciler; capacity is users per monitor (650
// minus the headroom; 0: 650).
func NewReconciler(st *store.Store, eng *Engine, clients Clients, capacity int, logger *slog.Logger) *Reconciler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Reconciler{st: st, eng: eng, clients: clients, cap: capacity, logger: logger}
}

// ReconcileTenant shards the resolved roster over the authorized monitors
// (stable: nobody moves who need not), records the assignment, makes each
// monitor's subscription cover exactly its users, and repairs the users of
// every subscription that was created or replaced. A monitor that fails is
// reported and the others carry on.
func (r *Reconciler) ReconcileTenant(ctx context.Context, tenantID uuid.UUID) (Report, error) {
	rep := Report{Outcomes: map[uuid.UUID]Outcome{}, Failed: map[uuid.UUID]error{}}
	roster, err := r.st.ResolvedRoster(ctx, r.st.Pool(), tenantID)
	if err != nil {
		return rep, err
	}
	monitors, err := r.st.AuthorizedMonitors(ctx, r.st.Pool(), tenantID)
	if err != nil {
		return rep, err
	}
	in := shard.Input{Cap: r.cap, Users: make([]shard.User, len(roster))}
	for i, u := range roster {
		in.Users[i].ID = u.ObjectID.String()
		if u.MonitorID != nil {
			in.Users[i].Monitor = u.MonitorID.String()
		}
	}
	for _, m := range monitors {
		in.Monitors = append(in.Monitors, m.ID.String())
	}
	res := shard.Assign(in)
	rep.Users, rep.Monitors, rep.Unmonitored, rep.MonitorsMissing = len(roster), len(monitors), res.Unmonitored, res.MonitorsMissing

	var changedUsers []uuid.UUID
	var changedTo []*uuid.UUID
	perMonitor := map[string][]string{}
	for i, u := range roster {
		if m := res.Monitor[i]; m != "" {
			perMonitor[m] = append(perMonitor[m], u.ObjectID.String())
		}
		if res.Changed(in, i) {
			changedUsers = append(changedUsers, u.ObjectID)
			var to *uuid.UUID
			if m := res.Monitor[i]; m != "" {
				id := uuid.MustParse(m)
				to = &id
			}
			changedTo = append(changedTo, to)
		}
	}
	if err := r.st.AssignUsers(ctx, r.st.Pool(), tenantID, changedUsers, changedTo); err != nil {
		return rep, err
	}
	var gaps []string
	for _, m := range monitors {
		users := perMonitor[m.ID.String()]
		g, err := r.clients.Monitor(ctx, tenantID, m.ID)
		if err == nil {
			rep.Outcomes[m.ID], err = r.eng.Ensure(ctx, g, tenantID, m.ID, users)
		}
		if err != nil {
			rep.Failed[m.ID] = err
			r.logger.Warn("subscribe: monitor's subscription not reconciled", "tenant", tenantID, "monitor", m.ID, "err", err)
			continue
		}
		if o := rep.Outcomes[m.ID]; o == Created || o == Replaced {
			gaps = append(gaps, users...)
		}
	}
	if len(gaps) > 0 {
		reader, err := r.clients.Reader(ctx, tenantID)
		if err == nil {
			var st RepairStats
			st, err = Repair(ctx, r.st, reader, tenantID, gaps)
			rep.Repaired = st.Changed
		}
		if err != nil {
			return rep, fmt.Errorf("subscribe: repair after new subscriptions: %w", err)
		}
	}
	if len(rep.Failed) > 0 {
		errs := make([]error, 0, len(rep.Failed))
		for _, e := range rep.Failed {
			errs = append(errs, e)
		}
		return rep, errors.Join(errs...)
	}
	return rep, nil
}
