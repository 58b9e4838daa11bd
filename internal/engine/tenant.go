package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"time"

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
	Repaired                                      int // users whose re-read found a change
	Resent                                        int // users a sync asked for, their unchanged state sent again
	Failed                                        map[uuid.UUID]error
	// Reread are the users whose presence was read after their
	// subscription was created or replaced: a full repair in the same
	// pass need not read them again.
	Reread []string
	// Monitored are the users with a monitor once the users were placed
	// (Placed): a full repair in the same pass reads them without reading
	// the roster a second time.
	Monitored []string
	Placed    bool
	// Digest stands for the placement a clean reconciliation made (every
	// monitor's subscription reconciled): recorded, it lets the next pass
	// skip a reconciliation that would change nothing (nil: not clean).
	Digest *int64
	// Skipped: nothing to reconcile, the counts are the last pass's.
	Skipped bool
}

// Reconciler brings a tenant's subscriptions in line with its roster.
type Reconciler struct {
	st      *store.Store
	eng     *Engine
	clients Clients
	cap     int
	budget  *Budget
	logger  *slog.Logger
}

// NewReconciler returns a Reconciler; capacity is users per monitor
// (graphapi.MaxPresenceIDs minus the headroom; 0: graphapi.MaxPresenceIDs).
func NewReconciler(st *store.Store, eng *Engine, clients Clients, capacity int, logger *slog.Logger) *Reconciler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Reconciler{st: st, eng: eng, clients: clients, cap: capacity, budget: NewBudget(0, 0, 0, 0), logger: logger}
}

// WithBudget makes repairs share b (one per process).
func (r *Reconciler) WithBudget(b *Budget) *Reconciler {
	r.budget = b
	return r
}

// EndTenant deletes every subscription of a tenant that is no longer
// active (suspended or deleted): at Graph where the monitor's token still
// works, else abandoned to expire.
func (r *Reconciler) EndTenant(ctx context.Context, tenantID uuid.UUID) error {
	return r.sweep(ctx, tenantID, nil)
}

// sweep ends the subscriptions of monitors no longer in use: deleted at
// Graph when the monitor's token still works, else abandoned — kept so
// that their last notifications verify — and forgotten once expired.
func (r *Reconciler) sweep(ctx context.Context, tenantID uuid.UUID, inUse []store.Monitor) error {
	rows, err := r.st.TenantSubscriptions(ctx, tenantID)
	if err != nil {
		return err
	}
	using := map[uuid.UUID]bool{}
	for _, m := range inUse {
		using[m.ID] = true
	}
	now := r.eng.now()
	var errs []error
	for _, s := range rows {
		if using[s.MonitorID] {
			continue
		}
		if s.GraphID == "" || s.ExpiresAt == nil || !now.Before(*s.ExpiresAt) {
			errs = append(errs, r.st.DropSubscriptionRow(ctx, s.ID))
			continue
		}
		if s.Abandoned {
			continue
		}
		g, err := r.clients.Monitor(ctx, tenantID, s.MonitorID)
		if err == nil {
			err = g.DeleteSubscription(ctx, s.GraphID)
			if err == nil || graphapi.IsNotFound(err) {
				errs = append(errs, r.st.DropSubscriptionRow(ctx, s.ID))
				continue
			}
		}
		r.logger.Info("engine: subscription of a monitor no longer in use left to expire", "tenant", tenantID,
			"monitor", s.MonitorID, "subscription", s.GraphID, "expires", s.ExpiresAt, "err", err)
		errs = append(errs, r.st.AbandonSubscription(ctx, s.ID, "monitor no longer in use: "+err.Error()))
	}
	errs = append(errs, r.st.PurgeRemovedMonitors(ctx, tenantID))
	return errors.Join(errs...)
}

func (r *Reconciler) alertUnmonitored(ctx context.Context, tenantID uuid.UUID, rep Report) error {
	if rep.Unmonitored == 0 {
		return r.st.ResolveAlert(ctx, tenantID, store.AlertUsersUnmonitored, "")
	}
	msg := fmt.Sprintf("%d users are not monitored: authorize %d more presence monitor account(s) (each covers up to %d users).",
		rep.Unmonitored, rep.MonitorsMissing, r.capacity())
	return r.st.RaiseAlert(ctx, tenantID, store.AlertUsersUnmonitored, "", msg,
		map[string]any{"unmonitored": rep.Unmonitored, "monitors_missing": rep.MonitorsMissing, "monitors": rep.Monitors})
}

func (r *Reconciler) capacity() int {
	if r.cap <= 0 {
		return graphapi.MaxPresenceIDs
	}
	return r.cap
}

// ReconcileTenant shards the resolved roster over the authorized monitors
// (stable: nobody moves who need not), records the assignment, makes each
// monitor's subscription cover exactly its users, and repairs the users of
// every subscription that was created or replaced. A monitor that fails is
// reported and the others carry on. Subscriptions of monitors that left
// are deleted, or abandoned to expire when their grant is gone. Users that
// fit no monitor raise an alert for the tenant.
func (r *Reconciler) ReconcileTenant(ctx context.Context, tenantID uuid.UUID) (Report, error) {
	return r.ReconcileTenantExcept(ctx, tenantID, nil)
}

// ReconcileTenantExcept is ReconcileTenant leaving out some authorized
// monitors (say, one whose token fails while its subscription lapses):
// their users move as if the monitors had failed.
func (r *Reconciler) ReconcileTenantExcept(ctx context.Context, tenantID uuid.UUID, except map[uuid.UUID]bool) (Report, error) {
	rep := Report{Outcomes: map[uuid.UUID]Outcome{}, Failed: map[uuid.UUID]error{}}
	roster, err := r.st.ResolvedRoster(ctx, tenantID)
	if err != nil {
		return rep, err
	}
	monitors, err := r.monitorsExcept(ctx, tenantID, except)
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
	monitored := make([]string, 0, len(roster))
	for i, u := range roster {
		if m := res.Monitor[i]; m != "" {
			id := u.ObjectID.String()
			perMonitor[m] = append(perMonitor[m], id)
			monitored = append(monitored, id)
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
	if err := r.st.AssignUsers(ctx, tenantID, changedUsers, changedTo); err != nil {
		return rep, err
	}
	rep.Monitored, rep.Placed = monitored, true
	// The subscriptions closest to expiry first (none yet, or lost, before
	// all): after a restart that finds a tenant's subscriptions all due,
	// the last of them would otherwise wait behind others with longer to
	// live.
	subs, err := r.st.TenantSubscriptions(ctx, tenantID)
	if err != nil {
		return rep, err
	}
	expires := make(map[uuid.UUID]time.Time, len(subs))
	for _, s := range subs {
		if s.ExpiresAt != nil {
			expires[s.MonitorID] = *s.ExpiresAt
		}
	}
	slices.SortStableFunc(monitors, func(a, b store.Monitor) int { return expires[a.ID].Compare(expires[b.ID]) })
	var gaps []string
	for _, m := range monitors {
		users := perMonitor[m.ID.String()]
		g, err := r.clients.Monitor(ctx, tenantID, m.ID)
		if err == nil {
			rep.Outcomes[m.ID], err = r.eng.Ensure(ctx, g, tenantID, m.ID, users)
		}
		if err != nil {
			rep.Failed[m.ID] = err
			r.logger.Warn("engine: monitor's subscription not reconciled", "tenant", tenantID, "monitor", m.ID, "err", err)
			continue
		}
		if o := rep.Outcomes[m.ID]; o == Created || o == Replaced {
			gaps = append(gaps, users...)
		}
	}
	if err := r.sweep(ctx, tenantID, monitors); err != nil {
		rep.Failed[uuid.Nil] = err
	}
	if err := r.alertUnmonitored(ctx, tenantID, rep); err != nil {
		return rep, err
	}
	if len(gaps) > 0 {
		reader, err := r.clients.Reader(ctx, tenantID)
		if err == nil {
			var st RepairStats
			st, err = Repair(ctx, r.st, r.budget.Reader(tenantID, reader), tenantID, gaps)
			rep.Repaired = st.Changed
			if err == nil {
				rep.Reread = gaps
			}
		}
		if err != nil {
			return rep, fmt.Errorf("engine: repair after new subscriptions: %w", err)
		}
	}
	if len(rep.Failed) > 0 { // uuid.Nil: the sweep of unused subscriptions
		errs := make([]error, 0, len(rep.Failed))
		for _, e := range rep.Failed {
			errs = append(errs, e)
		}
		return rep, errors.Join(errs...)
	}
	d := r.digest(monitors, func(m uuid.UUID) bool { return len(perMonitor[m.String()]) > 0 })
	rep.Digest = &d
	return rep, nil
}

// ReconcileChanged is ReconcileTenantExcept unless nothing it acts on can
// have changed since the last clean reconciliation, whose status is last:
// no user of the tenant written since (store.TakeRosterChanges), the same
// monitors covering users, every subscription in use, live and not yet
// due for renewal, and a placement that means the same to this build
// (buildMeaning, in the digest). Then it reports last's counts and does
// nothing: a full reconciliation reads the whole roster and every
// monitor's subscription to find nothing to do — at a million users 1,000
// rosters each minute, ~1.2 s of our CPU and ~2.7 s of PostgreSQL's in
// about 15 s, during which changes queued to p50 1.9 s (issue 16;
// TestAPassWithNothingChangedReadsNoRoster). It holds after a restart too
// (TestARestartedRunnerSkipsWhatTheLastOneReconciled). Until the digest
// carried buildMeaning, a process's first pass reconciled every tenant in
// full, which cost the repair after a restart at a million users 2.1 s of
// serve's CPU (Ensure alone 1 s) in a 45-second profile of TestLoadRepair.
func (r *Reconciler) ReconcileChanged(ctx context.Context, tenantID uuid.UUID, except map[uuid.UUID]bool, last store.EngineTenant) (Report, error) {
	// Taken first, always: a full reconciliation reads the roster after
	// the take, so no write is both taken and unread.
	changed, err := r.st.TakeRosterChanges(ctx, tenantID)
	if err != nil {
		return Report{Outcomes: map[uuid.UUID]Outcome{}, Failed: map[uuid.UUID]error{}}, err
	}
	if !changed && last.ReconciledDigest != nil {
		monitors, err := r.monitorsExcept(ctx, tenantID, except)
		if err != nil {
			return Report{Outcomes: map[uuid.UUID]Outcome{}, Failed: map[uuid.UUID]error{}}, err
		}
		if same, err := r.unchanged(ctx, tenantID, monitors, *last.ReconciledDigest); err != nil || same {
			return Report{Users: last.Users, Monitors: last.Monitors, Unmonitored: last.Unmonitored, MonitorsMissing: last.MonMissing,
				Outcomes: map[uuid.UUID]Outcome{}, Failed: map[uuid.UUID]error{}, Digest: last.ReconciledDigest, Skipped: err == nil}, err
		}
	}
	return r.ReconcileTenantExcept(ctx, tenantID, except)
}

// unchanged reports whether the tenant's subscriptions are as the clean
// reconciliation that recorded digest left them, none needing Ensure: each
// of a monitor in use, made, live, not due for renewal nor asked to renew,
// not abandoned, and the monitors covering users the same.
func (r *Reconciler) unchanged(ctx context.Context, tenantID uuid.UUID, monitors []store.Monitor, digest int64) (bool, error) {
	subs, err := r.st.TenantSubscriptions(ctx, tenantID)
	if err != nil {
		return false, err
	}
	inUse := make(map[uuid.UUID]bool, len(monitors))
	for _, m := range monitors {
		inUse[m.ID] = true
	}
	now := r.eng.now()
	covers := make(map[uuid.UUID]bool, len(subs))
	for _, s := range subs {
		if !inUse[s.MonitorID] || s.Abandoned || s.GraphID == "" || s.ExpiresAt == nil || s.RenewRequested ||
			!now.Before(renewDue(s.ID, *s.ExpiresAt)) {
			return false, nil
		}
		covers[s.MonitorID] = true
	}
	return r.digest(monitors, func(m uuid.UUID) bool { return covers[m] }) == digest, nil
}

// digest stands for a placement: what it means to this build
// (buildMeaning), the capacity, and each monitor used with whether it
// covers users (and so holds a subscription).
func (r *Reconciler) digest(monitors []store.Monitor, covers func(uuid.UUID) bool) int64 {
	ids := make([]uuid.UUID, len(monitors))
	for i, m := range monitors {
		ids[i] = m.ID
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	h := fnv.New64a()
	h.Write(buildMeaning())
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(r.capacity())))
	for _, id := range ids {
		h.Write(id[:])
		if covers(id) {
			h.Write([]byte{1})
		} else {
			h.Write([]byte{0})
		}
	}
	return int64(h.Sum64())
}

// buildMeaning stands for what this build makes of a placement, shown on
// a fixed sample: where shard.Assign puts users (some placed already, one
// monitor over its share) and the resource text Ensure asks Graph for
// each monitor's users (orderFor, graphapi.PresenceResource). It is in
// every digest, so a digest recorded by a build that places or spells
// otherwise matches none of this build's: after an upgrade every tenant
// is reconciled in full once, and its subscriptions are made as this
// build spells them; after a restart of the same build (or beside another
// instance of it) a tenant nothing changed in is not.
var buildMeaning = sync.OnceValue(placementSample)

// placementSample is buildMeaning's sample, placed and spelled. The same
// every time (TestAPlacementSampleIsTheSameEveryTime): were it not, no
// digest would match after a restart.
func placementSample() []byte {
	sample := func(kind string, i int) string {
		return uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "https://presencebridge.invalid/%s/%d", kind, i)).String()
	}
	in := shard.Input{Cap: 3}
	for i := range 3 {
		in.Monitors = append(in.Monitors, sample("monitor", i))
	}
	for i := range 8 {
		u := shard.User{ID: sample("user", i)}
		if i%2 == 0 {
			u.Monitor = in.Monitors[0]
		}
		in.Users = append(in.Users, u)
	}
	placed := shard.Assign(in)
	var b []byte
	for _, m := range in.Monitors {
		var users []string
		for i, u := range in.Users {
			if placed.Monitor[i] == m {
				users = append(users, u.ID)
			}
		}
		b = append(append(b, graphapi.PresenceResource(orderFor(uuid.MustParse(m), users))...), 0)
	}
	return b
}

// monitorsExcept lists the tenant's authorized monitors but those in
// except.
func (r *Reconciler) monitorsExcept(ctx context.Context, tenantID uuid.UUID, except map[uuid.UUID]bool) ([]store.Monitor, error) {
	all, err := r.st.AuthorizedMonitors(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(m store.Monitor) bool { return except[m.ID] }), nil
}
