package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/identity"
	"presencebridge/internal/roster"
	"presencebridge/internal/store"
	"presencebridge/internal/tokens"
)

// Tokens gives monitors' access tokens (*tokens.Vault).
type Tokens interface {
	MonitorToken(ctx context.Context, tenantID, monitorID uuid.UUID) (string, error)
	// Refresh exercises the monitor's grant if not done within a day.
	Refresh(ctx context.Context, tenantID, monitorID uuid.UUID) error
	// Recheck exercises the monitor's grant now.
	Recheck(ctx context.Context, tenantID, monitorID uuid.UUID) error
}

// RunnerOptions configure a Runner.
type RunnerOptions struct {
	// RepairEvery is the periodic reconciliation: every monitored user's
	// presence is re-read this often (default 10 minutes).
	RepairEvery time.Duration
	// Parallel is how many tenants one Cycle works on at once (default 4).
	Parallel int
	// Roster and Directory, when set, keep the roster current in each pass:
	// pending users resolved; every DirectoryEvery (default 15 minutes) a
	// group roster synced and the directory followed for accounts deleted,
	// disabled or renamed since. Directory gives an app-only Graph client.
	Roster         *roster.Roster
	Directory      func(ctx context.Context, tenantID uuid.UUID) (roster.Directory, error)
	DirectoryEvery time.Duration
	Logger         *slog.Logger
}

// Runner is the presence engine's pass over tenants: token upkeep,
// lifecycle notifications, reconciliation, re-reads queued by the intake,
// and the periodic repair. Any number of processes may run Cycle at the
// same time: a tenant is worked on by whichever holds its lock.
type Runner struct {
	st     *store.Store
	rec    *Reconciler
	eng    *Engine
	cl     Clients
	tok    Tokens
	opts   RunnerOptions
	logger *slog.Logger
	// started is when this runner began: a tenant not repaired since is
	// repaired on its next pass, whoever's lock it is under.
	started time.Time
}

// NewRunner returns a Runner over rec (and its engine and clients).
func NewRunner(st *store.Store, rec *Reconciler, tok Tokens, opts RunnerOptions) *Runner {
	if opts.RepairEvery <= 0 {
		opts.RepairEvery = 10 * time.Minute
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	if opts.DirectoryEvery <= 0 {
		opts.DirectoryEvery = 15 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{st: st, rec: rec, eng: rec.eng, cl: rec.clients, tok: tok, opts: opts, logger: opts.Logger, started: rec.eng.now()}
}

// Cycle works on every active tenant once, the tenant with the
// subscription closest to expiry first (store.ActiveTenants), skipping
// tenants another process is working on: after a restart that finds
// thousands due, a random order renewed some minutes after others that had
// longer to live
// (TestARestartRenewsTheSubscriptionsClosestToExpiryFirst). Several
// processes take the same order; a tenant locked by one is skipped by the
// others at the cost of one try.
func (r *Runner) Cycle(ctx context.Context) error {
	ids, err := r.st.ActiveTenants(ctx)
	if err != nil {
		return err
	}
	// A tenant's pass holds a pooled connection for its lock throughout and
	// needs others for its queries: with as many tenants at once as the
	// pool has connections, every pass held a lock and waited for a query
	// connection forever (PB_DB_MAX_CONNS=4, or pgxpool's default on up to
	// 4 cores; TestAPassOverTenantsFinishesWithAPoolOfAsManyConnectionsAsTenantsAtOnce).
	// Locks take at most half the pool.
	sem := make(chan struct{}, max(1, min(r.opts.Parallel, int(r.st.Pool().Config().MaxConns)/2)))
	var wg sync.WaitGroup
	for _, t := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_, _, err := r.Tenant(ctx, t)
			var de *DegradedError
			switch {
			case errors.As(err, &de): // logged and alerted once, when it became so
				r.logger.Debug("engine: tenant still degraded", "tenant", t, "err", err)
			case err != nil:
				r.logger.Warn("engine: tenant not fully reconciled", "tenant", t, "err", err)
			}
		})
	}
	wg.Wait()
	// Tenants suspended or deleted: their subscriptions go.
	ended, err := r.st.InactiveTenantsWithSubscriptions(ctx)
	if err != nil {
		return err
	}
	for _, t := range ended {
		if err := r.locked(ctx, t, func() error { return r.rec.EndTenant(ctx, t) }); err != nil {
			r.logger.Warn("engine: subscriptions of an inactive tenant not all deleted", "tenant", t, "err", err)
		}
	}
	if _, err := r.eng.RetireCertificates(ctx); err != nil && ctx.Err() == nil {
		r.logger.Warn("engine: retiring unused encryption certificates failed", "err", err)
	}
	return ctx.Err()
}

// Tenant runs one pass over a tenant under its lock (a session advisory
// lock: it ends with the connection, so a killed process frees the tenant
// at once). ran is false when another process holds the lock.
func (r *Runner) Tenant(ctx context.Context, tenantID uuid.UUID) (rep Report, ran bool, err error) {
	err = r.locked(ctx, tenantID, func() error {
		ran = true
		var perr error
		rep, perr = r.pass(ctx, tenantID)
		return perr
	})
	return rep, ran, err
}

// locked runs fn holding the tenant's lock; held elsewhere, it returns nil
// without running fn.
func (r *Runner) locked(ctx context.Context, tenantID uuid.UUID, fn func() error) error {
	l, ok, err := r.st.TryTenantLock(ctx, tenantID)
	if err != nil || !ok {
		return err
	}
	defer func() {
		if err := l.Unlock(context.WithoutCancel(ctx)); err != nil {
			r.logger.Warn("engine: tenant lock", "tenant", tenantID, "err", err)
		}
	}()
	return fn()
}

func (r *Runner) pass(ctx context.Context, tenantID uuid.UUID) (Report, error) {
	now := r.eng.now()
	// The tenant's access first: while it is broken as a whole nothing
	// below can work, and moving users between monitors that all fail for
	// the same reason would only churn.
	if stop, err := r.keepHealth(ctx, tenantID); stop {
		return Report{}, r.recordDegraded(ctx, tenantID, now, err)
	} else if err != nil {
		r.logger.Info("engine: tenant's access not checked this pass", "tenant", tenantID, "err", err)
	}
	var errs []error
	errs = append(errs, r.keepRoster(ctx, tenantID, now))
	errs = append(errs, r.alertUnresolved(ctx, tenantID))
	r.keepTokens(ctx, tenantID, now)
	except, err := r.failing(ctx, tenantID, now)
	errs = append(errs, err)
	errs = append(errs, r.lifecycle(ctx, tenantID))
	status, serr := r.st.EngineStatus(ctx, tenantID)
	errs = append(errs, serr)
	rep, err := r.rec.ReconcileChanged(ctx, tenantID, except, status)
	errs = append(errs, err)

	// Repair everyone when due, and when nobody has since this process
	// started: a restart may have left a gap nobody else noticed. A repair
	// by another process since covers that gap — two workers started
	// together each re-read every tenant the other had already repaired
	// when its own pass reached it (web + 2 workers repaired 100,000 users
	// in 1 min 45 s with 1 min 01 s of product CPU, serve in 49 s with 33 s;
	// TestAWorkerStartedBesideAnotherDoesNotRepairWhatTheOtherRepaired).
	periodic := status.LastRepairAt == nil || status.LastRepairAt.Before(r.started) ||
		now.Sub(*status.LastRepairAt) >= r.opts.RepairEvery
	syncs, err := r.st.StartSyncOperations(ctx, tenantID)
	errs = append(errs, err)
	var done RepairStats
	var repairErr error
	if periodic {
		done, repairErr = r.repairAll(ctx, tenantID, rep)
		if repairErr != nil {
			periodic = false
			repairErr = fmt.Errorf("periodic repair: %w", repairErr)
		}
	} else {
		done, repairErr = r.drainResyncs(ctx, tenantID)
	}
	rep.Repaired += done.Changed
	rep.Resent += done.Resent
	errs = append(errs, repairErr)
	if syncs > 0 {
		errs = append(errs, r.settleSyncs(ctx, tenantID, repairErr))
	}
	err = errors.Join(errs...)
	t := store.EngineTenant{TenantID: tenantID, Users: rep.Users, Monitors: rep.Monitors, Unmonitored: rep.Unmonitored, MonMissing: rep.MonitorsMissing,
		ReconciledDigest: rep.Digest}
	if err != nil {
		t.LastError = err.Error()
	}
	if rerr := r.st.RecordReconcile(ctx, t, now, periodic); rerr != nil {
		err = errors.Join(err, rerr)
	}
	return rep, err
}

// recordDegraded records a pass that stopped at a degraded tenant's access
// check: the counts of the last full pass stay, with the error.
func (r *Runner) recordDegraded(ctx context.Context, tenantID uuid.UUID, now time.Time, cause error) error {
	if err := r.failSyncs(ctx, tenantID, cause); err != nil {
		return errors.Join(cause, err)
	}
	t, err := r.st.EngineStatus(ctx, tenantID)
	if err != nil {
		return errors.Join(cause, err)
	}
	t.LastError = cause.Error()
	t.ReconciledDigest = nil // reconciled in full once the access works again
	return errors.Join(cause, r.st.RecordReconcile(ctx, t, now, false))
}

// keepRoster syncs a group roster when due and resolves pending users, so
// that the reconciliation of the same pass places them.
func (r *Runner) keepRoster(ctx context.Context, tenantID uuid.UUID, now time.Time) error {
	if r.opts.Roster == nil || r.opts.Directory == nil {
		return nil
	}
	src, err := r.st.TenantRosterSource(ctx, tenantID)
	if err != nil {
		return err
	}
	dir, err := r.opts.Directory(ctx, tenantID)
	if err != nil {
		return fmt.Errorf("roster: directory client: %w", err)
	}
	var errs []error
	if src.Kind == store.SourceGroup && (src.LastSyncAt == nil || src.LastSyncError != "" || now.Sub(*src.LastSyncAt) >= r.opts.DirectoryEvery) {
		if _, err := r.opts.Roster.SyncGroup(ctx, tenantID, dir); err != nil {
			errs = append(errs, err)
		}
	}
	if follow, ok := dir.(roster.DirectoryChanges); ok {
		st, err := r.st.DirectoryFollowState(ctx, tenantID)
		if err == nil && (st.SyncedAt == nil || st.LastError != "" || now.Sub(*st.SyncedAt) >= r.opts.DirectoryEvery) {
			_, err = r.opts.Roster.FollowDirectory(ctx, tenantID, follow, now)
		}
		errs = append(errs, err)
	}
	res, err := r.opts.Roster.Resolve(ctx, tenantID, dir)
	if err == nil && res.Retry > 0 {
		r.logger.Info("roster: lookups left for the next pass", "tenant", tenantID, "users", res.Retry, "err", res.RetryErr)
	}
	return errors.Join(append(errs, err)...)
}

// keepTokens refreshes every authorized monitor's grant at least daily;
// failures are recorded on the monitor by the vault (re-authorization
// needed: marked, alerted, and its users move in this same pass).
func (r *Runner) keepTokens(ctx context.Context, tenantID uuid.UUID, now time.Time) {
	due, err := r.st.MonitorsDueForRefresh(ctx, tenantID, now.Add(-tokens.DailyRefresh))
	if err != nil {
		r.logger.Warn("engine: list monitors due for refresh", "tenant", tenantID, "err", err)
		return
	}
	for _, m := range due {
		if err := r.tok.Refresh(ctx, tenantID, m); err != nil {
			r.logger.Warn("engine: daily refresh failed", "tenant", tenantID, "monitor", m, "err", err)
		}
	}
}

// failing checks every authorized monitor's token. A grant found gone is
// marked by the vault (and so left out by the reconciler); a monitor whose
// token fails for now is left out only when its subscription would lapse
// before it can be renewed, so a short blip moves nobody.
func (r *Runner) failing(ctx context.Context, tenantID uuid.UUID, now time.Time) (map[uuid.UUID]bool, error) {
	ms, err := r.st.AuthorizedMonitors(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	except := map[uuid.UUID]bool{}
	for _, m := range ms {
		_, err := r.tok.MonitorToken(ctx, tenantID, m.ID)
		if err == nil || permanent(err) {
			continue
		}
		sub, serr := r.st.SubscriptionForMonitor(ctx, tenantID, m.ID)
		if serr != nil || sub.ExpiresAt == nil || sub.ExpiresAt.Sub(now) < RenewLatest {
			except[m.ID] = true
			r.logger.Warn("engine: monitor's token failing while its subscription lapses; its users move", "tenant", tenantID, "monitor", m.ID, "err", err)
		}
	}
	return except, nil
}

func permanent(err error) bool {
	var na *tokens.NotAuthorizedError
	if errors.As(err, &na) {
		return true
	}
	c := identity.ClassOf(err)
	var bo *tokens.BackingOffError
	return !errors.As(err, &bo) && (c == identity.Reauthorize || c == identity.ConsentMissing)
}

// lifecycle acts on Graph's lifecycle notifications: reauthorizationRequired
// renews (a PATCH reauthorizes), subscriptionRemoved makes the subscription
// due for re-creation (and so a repair), missed re-reads its users.
func (r *Runner) lifecycle(ctx context.Context, tenantID uuid.UUID) error {
	evs, err := r.st.OpenLifecycleEvents(ctx, tenantID)
	if err != nil {
		return err
	}
	var errs []error
	for _, ev := range evs {
		var err error
		switch ev.Event {
		case "reauthorizationRequired":
			// Graph pauses notifications while access is lost: once
			// reauthorized, the subscription's users are re-read.
			if err = r.reauthorize(ctx, tenantID, ev); err == nil {
				err = r.st.QueueMonitorResync(ctx, tenantID, ev.MonitorID, "reauthorized")
			}
		case "subscriptionRemoved":
			err = r.st.SubscriptionExpired(ctx, ev.SubscriptionID, "Graph removed the subscription")
		case "missed":
			err = r.st.QueueMonitorResync(ctx, tenantID, ev.MonitorID, "missed notifications")
		default:
			r.logger.Info("engine: lifecycle event ignored", "tenant", tenantID, "event", ev.Event)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("lifecycle %s: %w", ev.Event, err))
			continue
		}
		errs = append(errs, r.st.LifecycleEventHandled(ctx, ev.ID))
	}
	return errors.Join(errs...)
}

func (r *Runner) reauthorize(ctx context.Context, tenantID uuid.UUID, ev store.LifecycleEvent) error {
	if ev.GraphID == "" {
		return nil
	}
	// Graph says the monitor's access is lost or about to lapse: find out
	// now whether its grant still holds (a revoked one marks the monitor,
	// and the reconciliation of this same pass moves its users).
	if err := r.tok.Recheck(ctx, tenantID, ev.MonitorID); err != nil {
		if permanent(err) {
			return nil
		}
		return err
	}
	// A renewal reauthorizes, and Graph asks not to reauthorize and PATCH
	// one subscription within 10 minutes (docs/graph.md#subscription-operations).
	// Due within RenewLatest or already, it is left to its renewal by the
	// reconciliation: this pass's when due already — which renews a
	// tenant's subscriptions closest to expiry first, where lifecycle
	// events come in Graph's order — or a pass within the next few
	// minutes, at its own point. Renewed here, early, it would leave its
	// phase for good: Graph (as graphsim) says reauthorizationRequired 15
	// minutes before expiry, a renewal then puts the next notification 15
	// minutes before the next expiry, before the next renewal point again —
	// so a cold start's subscriptions due in those minutes renewed together
	// every 40 minutes (163 in one minute,
	// mean 34, in the 1,540-subscription fleet test). Due later (access lost
	// and back, or an expiry we have renewed since), it is reauthorized
	// without moving the expiry.
	cur, err := r.st.SubscriptionForMonitor(ctx, tenantID, ev.MonitorID)
	if err != nil {
		return err
	}
	if cur.GraphID != ev.GraphID {
		return nil // replaced since
	}
	g, err := r.cl.Monitor(ctx, tenantID, ev.MonitorID)
	if err != nil {
		return err
	}
	now := r.eng.now()
	var renewed *graphapi.Subscription
	switch {
	case cur.ExpiresAt == nil:
		var sub graphapi.Subscription
		sub, err = g.RenewSubscription(ctx, ev.GraphID, now.Add(Lifetime))
		renewed = &sub
	case renewDue(cur.ID, *cur.ExpiresAt).Sub(now) <= RenewLatest:
		return nil
	default:
		err = g.ReauthorizeSubscription(ctx, ev.GraphID)
	}
	switch {
	case graphapi.IsNotFound(err):
		return r.st.SubscriptionExpired(ctx, ev.SubscriptionID, "Graph no longer knows the subscription")
	case err != nil && permanent(err):
		return nil // the monitor is marked; the reconciliation moves its users
	case err != nil:
		return err
	case renewed != nil:
		return r.st.SubscriptionRenewed(ctx, ev.SubscriptionID, renewed.ExpiresAt)
	}
	return nil
}

// drainResyncs re-reads the users the intake queued (basic notifications,
// lifecycle "missed", reauthorizations) and syncs asked for; a queue entry
// goes only once its re-read is applied, and one asked for again
// meanwhile stays. Only a sync's entries are sent on unchanged: the other
// re-reads look for what notifications missed, and send only that.
func (r *Runner) drainResyncs(ctx context.Context, tenantID uuid.UUID) (RepairStats, error) {
	var total RepairStats
	for {
		q, err := r.st.PendingResyncs(ctx, tenantID, 10*graphapi.MaxPresenceIDs)
		if err != nil || len(q.Users) == 0 {
			return total, err
		}
		st, err := r.repair(ctx, tenantID, q.Users, q.Sync, false)
		total.Changed, total.Resent = total.Changed+st.Changed, total.Resent+st.Resent
		if err != nil {
			return total, fmt.Errorf("re-read queued users: %w", err)
		}
		if err := r.st.ClearResyncs(ctx, tenantID, q.Users, q.UpTo); err != nil {
			return total, err
		}
		if len(q.Users) < 10*graphapi.MaxPresenceIDs {
			return total, nil
		}
	}
}

// repairAll re-reads every monitored user and everyone queued for a
// re-read, who then leave the queue (or stay, if it fails); the users of
// syncs among them are sent on unchanged too. The monitored users are
// the pass's reconciliation's, when it placed them: read again, the same
// roster cost PostgreSQL 1.5 ms a tenant of 1,000 users (151 ms in 100
// passes, pg_stat_statements, TestLoadRepair at 100,000 users).
func (r *Runner) repairAll(ctx context.Context, tenantID uuid.UUID, rep Report) (RepairStats, error) {
	q, err := r.st.PendingResyncs(ctx, tenantID, math.MaxInt32)
	if err != nil {
		return RepairStats{}, err
	}
	users := rep.Monitored
	if !rep.Placed {
		if users, err = r.st.MonitoredUsers(ctx, tenantID); err != nil {
			return RepairStats{}, err
		}
	}
	reread := rep.Reread
	// Users this pass read already (their subscriptions are new) are not
	// read twice: a cold start's first pass read each user two times
	// (TestAFirstPassReadsEachUsersPresenceOnce). Re-reads queued for them
	// still go.
	if len(reread) > 0 {
		done := make(map[string]bool, len(reread))
		for _, u := range reread {
			done[u] = true
		}
		users = slices.DeleteFunc(users, func(u string) bool { return done[u] })
	}
	st, err := r.repair(ctx, tenantID, union(users, q.Users), q.Sync, true)
	if err != nil {
		return st, err
	}
	return st, r.st.ClearResyncs(ctx, tenantID, q.Users, q.UpTo)
}

func union(a, b []string) []string {
	seen := make(map[string]bool, len(a)+len(b))
	out := make([]string, 0, len(a)+len(b))
	for _, s := range slices.Concat(a, b) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// repair re-reads users, those in sync for a sync, all of the tenant's
// if all says so (reread).
func (r *Runner) repair(ctx context.Context, tenantID uuid.UUID, users []string, sync map[string]bool, all bool) (RepairStats, error) {
	if len(users) == 0 {
		return RepairStats{}, nil
	}
	reader, err := r.cl.Reader(ctx, tenantID)
	if err != nil {
		return RepairStats{}, err
	}
	return reread(ctx, r.st, r.rec.budget.Reader(tenantID, reader), tenantID, users, sync, all)
}
