package enginetest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/certs"
	"presencebridge/internal/engine"
	"presencebridge/internal/graph"
	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/graphsim"
	"presencebridge/internal/identity"
	"presencebridge/internal/intake"
	"presencebridge/internal/notification"
	"presencebridge/internal/roster"
	"presencebridge/internal/seal"
	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
	"presencebridge/internal/tokens"
	"presencebridge/web/graphhook"
)

// The presence engine's acceptance: the product's own parts (token vault,
// subscription engine, reconciler, runner, receiver, processor) against
// graphsim over HTTP, with graphsim's and the product's clocks moved
// together. These tests live here because only this package may link the
// SDK the product's Graph client is built on.

// bridge is one tenant of graphsim connected to the product.
type bridge struct {
	t        *testing.T
	e        *env
	ten      graphsim.SeedTenant
	pool     *pgxpool.Pool
	st       *store.Store
	tenant   uuid.UUID
	monitors []uuid.UUID // ours, by the index of ten.Monitors
	idc      *identity.Client
	app      identity.App
	hook     string // our receiver's base URL (…/graph)
	cm       *certs.Manager
	ring     *seal.Ring
}

type bridgeOptions struct {
	users, monitors, authorized int
	pipeline                    bool // our receiver and processor, else a bare handshake endpoint
	// ownApp: the tenant uses its own app registration (tenant_apps)
	// instead of ours, which it has not consented to.
	ownApp bool
}

func newBridge(t *testing.T, o bridgeOptions) *bridge {
	t.Helper()
	e := newEnv(t)
	ctx := t.Context()
	consentFor := e.Seed.App.ClientID
	if o.ownApp {
		consentFor = ""
	}
	ten, err := e.Sim.CreateTenant(o.users, o.monitors, consentFor)
	if err != nil {
		t.Fatal(err)
	}
	b := &bridge{t: t, e: e, ten: ten, app: identity.App{ClientID: e.Seed.App.ClientID, ClientSecret: e.Seed.App.ClientSecret}}
	b.st, b.ring, b.tenant = ourTenant(t, ten.ID)
	b.pool = b.st.Pool()
	if o.ownApp {
		b.app = b.useOwnApp()
	}
	if b.idc, err = identity.New(identity.Options{LoginURL: e.Base}); err != nil {
		t.Fatal(err)
	}
	_, err = b.pool.Exec(ctx, `INSERT INTO directory_users (tenant_id, upn, object_id, resolution_status)
		SELECT $1, u.upn, u.id, 'resolved' FROM unnest($2::text[], $3::uuid[]) WITH ORDINALITY AS u (upn, id, n) ORDER BY n`,
		b.tenant, upns(ten.Users), ids(ten.Users))
	if err != nil {
		t.Fatal(err)
	}
	for i, acct := range ten.Monitors {
		m, err := b.st.AddMonitor(ctx, b.tenant, acct.UPN)
		if err != nil {
			t.Fatal(err)
		}
		b.monitors = append(b.monitors, m.ID)
		if i < o.authorized {
			b.authorize(i)
		}
	}
	b.cm = certs.New(b.st, e.Now)
	if o.pipeline {
		b.hook = b.startPipeline()
	} else {
		b.hook = strings.TrimSuffix(testkit.NewNotificationReceiver(t).URL, "/notifications")
	}
	return b
}

func upns(us []graphsim.SeedUser) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.UPN
	}
	return out
}

func ids(us []graphsim.SeedUser) []uuid.UUID {
	out := make([]uuid.UUID, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

// authorize signs monitor i in once, as onboarding does.
func (b *bridge) authorize(i int) {
	b.t.Helper()
	acct := b.ten.Monitors[i]
	g, err := b.idc.PasswordOnce(b.t.Context(), b.app, b.ten.ID.String(), acct.UPN, acct.Password)
	if err != nil {
		b.t.Fatal(err)
	}
	g.Expiry = b.e.Now().Add(time.Until(g.Expiry))
	err = b.st.AuthorizeMonitor(b.t.Context(), b.tenant, b.monitors[i], store.MonitorGrant{ObjectID: g.Account.ObjectID,
		DisplayName: g.Account.Name, Method: "password", RefreshToken: g.RefreshToken, AccessToken: g.AccessToken, Expiry: g.Expiry})
	if err != nil {
		b.t.Fatal(err)
	}
}

// startPipeline serves our receiver and runs a processor, as the serve
// role does, on graphsim's clock.
func (b *bridge) startPipeline() string {
	t, ctx := b.t, b.t.Context()
	if _, err := b.cm.Active(ctx); err != nil {
		t.Fatal(err)
	}
	keys := notification.NewKeys()
	if err := b.cm.Load(ctx, keys); err != nil {
		t.Fatal(err)
	}
	// Our app id only, as cmd/presencebridge configures it: own apps are
	// the tenants' business, found by the processor.
	validator, err := notification.NewValidator(ctx, notification.ValidatorOptions{LoginURL: b.e.Base,
		Audiences: []string{b.e.Seed.App.ClientID}, Now: b.e.Now})
	if err != nil {
		t.Fatal(err)
	}
	committer := intake.NewCommitter(b.pool, intake.CommitterOptions{})
	go committer.Run(ctx)
	proc := intake.NewProcessor(b.st, intake.ProcessorOptions{Keys: keys, Tokens: validator})
	go func() {
		for ctx.Err() == nil {
			if _, err := proc.Drain(ctx); err != nil && ctx.Err() == nil {
				t.Logf("processor: %v", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	r := chi.NewRouter()
	r.Route("/graph", graphhook.New(graphhook.Deps{Subs: b.st, Committer: committer}).Routes)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv.URL + "/graph"
}

// worker is one instance of the product's engine: its own connection
// pool, token vault, Graph clients and runner, sharing only the database.
type worker struct {
	runner  *engine.Runner
	vault   *tokens.Vault
	clients *vaultClients
	pool    *pgxpool.Pool
}

func (b *bridge) worker(capacity int, transport http.RoundTripper) *worker {
	b.t.Helper()
	pool, err := pgxpool.New(b.t.Context(), b.pool.Config().ConnString())
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(pool.Close)
	st := store.New(pool, b.ring)
	creds := func(context.Context, uuid.UUID) (identity.App, string, error) { return b.app, b.ten.ID.String(), nil }
	vault := tokens.New(st, skewedRefresher{b.idc, b.e}, creds, b.e.Now)
	cl := &vaultClients{b: b, vault: vault, transport: transport}
	eng := engine.New(st, certs.New(st, b.e.Now), b.hook+"/notifications", b.hook+"/lifecycle", b.e.Now)
	rec := engine.NewReconciler(st, eng, cl, capacity, nil)
	opts := engine.RunnerOptions{Roster: roster.New(st), Directory: func(ctx context.Context, t uuid.UUID) (roster.Directory, error) {
		r, err := cl.Reader(ctx, t)
		c, _ := r.(*graph.Client)
		return c, err
	}}
	return &worker{runner: engine.NewRunner(st, rec, vault, opts), vault: vault, clients: cl, pool: pool}
}

// skewedRefresher is the identity platform seen from graphsim's clock:
// a token's lifetime counts from the Sim's now.
type skewedRefresher struct {
	c *identity.Client
	e *env
}

func (s skewedRefresher) Refresh(ctx context.Context, app identity.App, tenant, rt string) (identity.Grant, error) {
	g, err := s.c.Refresh(ctx, app, tenant, rt)
	g.Expiry = s.e.Now().Add(time.Until(g.Expiry))
	return g, err
}

// vaultClients are the product's Graph clients: monitors' tokens from the
// vault, the app-only reader from client credentials; retries on, as in
// production.
type vaultClients struct {
	b         *bridge
	vault     *tokens.Vault
	transport http.RoundTripper
	mu        sync.Mutex
	app       identity.AppToken
}

func (c *vaultClients) Monitor(_ context.Context, tenantID, monitorID uuid.UUID) (graphapi.Subscriber, error) {
	return graph.New(graph.Options{BaseURL: c.b.e.Base + "/v1.0", Transport: c.transport, Token: func(ctx context.Context) (string, error) {
		return c.vault.MonitorToken(ctx, tenantID, monitorID)
	}})
}

func (c *vaultClients) Reader(context.Context, uuid.UUID) (graphapi.PresenceReader, error) {
	return graph.New(graph.Options{BaseURL: c.b.e.Base + "/v1.0", Transport: c.transport, Token: func(ctx context.Context) (string, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.b.e.Now().Add(5 * time.Minute).Before(c.app.Expiry) {
			return c.app.AccessToken, nil
		}
		tok, err := c.b.idc.AppTokenFor(ctx, c.b.app, c.b.ten.ID.String())
		if err != nil {
			return "", err
		}
		tok.Expiry = c.b.e.Now().Add(time.Until(tok.Expiry))
		c.app = tok
		return tok.AccessToken, nil
	}})
}

// ours lists graphsim's subscriptions made by the tenant's monitors.
func (b *bridge) ours() []graphsim.Subscription {
	mine := map[string]bool{}
	for _, m := range b.ten.Monitors {
		mine[m.ID.String()] = true
	}
	var out []graphsim.Subscription
	for _, s := range b.e.Sim.Subscriptions() {
		if mine[s.CreatorID] {
			out = append(out, s)
		}
	}
	return out
}

func usersIn(resource string) int { return strings.Count(resource, "'") / 2 }

// held reads the presence we hold for a user.
func (b *bridge) held(user uuid.UUID) (availability, activity string) {
	b.pool.QueryRow(context.Background(), `SELECT availability, activity FROM presence WHERE tenant_id = $1 AND user_object_id = $2`,
		b.tenant, user).Scan(&availability, &activity)
	return
}

// lastSource is how the user's last presence event came to us
// (notification, repair, …).
func (b *bridge) lastSource(user uuid.UUID) (source string) {
	b.pool.QueryRow(context.Background(), `SELECT source FROM presence_events WHERE tenant_id = $1 AND user_object_id = $2 ORDER BY id DESC LIMIT 1`,
		b.tenant, user).Scan(&source)
	return
}

// eventually polls cond for up to 15 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEngineCoversATenantAndAPresenceChangeReachesThePresenceTable(t *testing.T) {
	b := newBridge(t, bridgeOptions{users: 2000, monitors: 4, authorized: 4, pipeline: true})
	w := b.worker(0, nil)
	rep, ran, err := w.runner.Tenant(t.Context(), b.tenant)
	if err != nil || !ran {
		t.Fatalf("first pass: %+v %v %v", rep, ran, err)
	}
	subs := b.ours()
	covered := map[string]int{}
	for _, s := range subs {
		if n := usersIn(s.Resource); n < 500 || n > 500 {
			t.Errorf("subscription covers %d users, want 500 (2,000 over 4, balanced within one)", n)
		}
		for _, u := range b.ten.Users {
			if strings.Contains(s.Resource, u.ID.String()) {
				covered[u.ID.String()]++
			}
		}
	}
	if len(subs) != 4 || len(covered) != 2000 {
		t.Fatalf("%d subscriptions covering %d users; want 4 covering 2,000", len(subs), len(covered))
	}
	for u, n := range covered {
		if n != 1 {
			t.Fatalf("user %s in %d subscriptions", u, n)
		}
	}
	// The first pass read everyone's presence (the periodic repair is due).
	var rows int
	b.pool.QueryRow(t.Context(), `SELECT count(*) FROM presence WHERE tenant_id = $1`, b.tenant).Scan(&rows)
	if rows != 2000 {
		t.Fatalf("presence rows after the first pass = %d, want 2,000", rows)
	}

	// A Teams call: Graph notifies, our receiver commits, the processor applies.
	u := b.ten.Users[1234].ID
	if err := b.e.Sim.SetTeamsPresence(u, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the call in the presence table", func() bool {
		a, act := b.held(u)
		return a == "Busy" && act == "InACall"
	})
	if source := b.lastSource(u); source == "repair" || source == "" {
		t.Errorf("the change came by %q, want the notification", source)
	}
	sts, _ := b.st.MonitorStatuses(t.Context(), b.tenant)
	notified := 0
	for _, m := range sts {
		if m.UsersAssigned != 500 || m.SubscriptionID == "" || m.ExpiresAt == nil || m.LastError != "" {
			t.Errorf("monitor status = %+v", m)
		}
		if m.LastNotificationAt != nil {
			notified++
		}
	}
	if notified != 1 {
		t.Errorf("%d monitors show a last notification, want the one whose subscription covers the caller", notified)
	}
	es, _ := b.st.EngineStatus(t.Context(), b.tenant)
	if es.Users != 2000 || es.Monitors != 4 || es.Unmonitored != 0 || es.LastReconciledAt == nil || es.LastRepairAt == nil || es.LastError != "" {
		t.Errorf("engine status = %+v", es)
	}
}

func TestEngineRenewsEverySubscriptionOverASimulatedDay(t *testing.T) {
	b := newBridge(t, bridgeOptions{users: 200, monitors: 4, authorized: 4, pipeline: true})
	w := b.worker(0, nil)
	ctx := t.Context()
	if _, _, err := w.runner.Tenant(ctx, b.tenant); err != nil {
		t.Fatal(err)
	}
	first := map[string]bool{}
	for _, s := range b.ours() {
		first[s.ID] = true
	}
	if len(first) != 4 {
		t.Fatalf("%d subscriptions, want 4", len(first))
	}
	// A day in two-minute steps (the engine runs every minute in
	// production): graphsim's timers run at each step — it deletes any
	// subscription past its expiry and sends reauthorizationRequired in the
	// last 15 minutes, which our receiver hands to the engine.
	for step := 1; step <= 24*30; step++ {
		b.e.Advance(2 * time.Minute)
		b.e.Sim.TickNotifications()
		if _, _, err := w.runner.Tenant(ctx, b.tenant); err != nil {
			t.Fatalf("at %v: %v", time.Duration(step)*2*time.Minute, err)
		}
		subs := b.ours()
		for _, s := range subs {
			exp, _ := time.Parse(time.RFC3339Nano, s.ExpirationDateTime)
			if !first[s.ID] || !exp.After(b.e.Now()) {
				t.Fatalf("at %v: subscription %s (expires %v) is not one of the first four: one lapsed", time.Duration(step)*2*time.Minute, s.ID, exp)
			}
		}
		if len(subs) != 4 {
			t.Fatalf("at %v: %d subscriptions at Graph, want 4", time.Duration(step)*2*time.Minute, len(subs))
		}
	}
	rows, _ := b.pool.Query(ctx, `SELECT renewals FROM subscriptions WHERE tenant_id = $1`, b.tenant)
	defer rows.Close()
	for rows.Next() {
		var n int
		rows.Scan(&n)
		// Renewed 10–20 minutes before a 55-minute expiry: every 35–45
		// minutes, plus up to one step (2 min) until the pass that sees it.
		if lo, hi := (24*60-45)/47, 24*60/35+1; n < lo || n > hi {
			t.Errorf("renewed %d times in 24 h, want %d–%d", n, lo, hi)
		}
	}
	// The last notifications may still be on their way: let them land,
	// then one more pass handles them.
	eventually(t, "the inbox to drain", func() bool {
		var n int
		b.pool.QueryRow(ctx, `SELECT count(*) FROM inbox`).Scan(&n)
		ns := b.e.Sim.NotificationStats()
		return n == 0 && ns.InFlight == 0 && ns.Queued == 0
	})
	if _, _, err := w.runner.Tenant(ctx, b.tenant); err != nil {
		t.Fatal(err)
	}
	var handled, open int
	b.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE handled_at IS NOT NULL), count(*) FILTER (WHERE handled_at IS NULL) FROM subscription_events`).Scan(&handled, &open)
	if open != 0 {
		t.Errorf("%d lifecycle notifications left unhandled (%d handled)", open, handled)
	}
	t.Logf("lifecycle notifications handled: %d", handled)
}

func TestEngineMovesARevokedMonitorsUsersToTheSpareAndAlerts(t *testing.T) {
	b := newBridge(t, bridgeOptions{users: 90, monitors: 4, authorized: 3, pipeline: true})
	w := b.worker(0, nil)
	ctx := t.Context()
	if _, _, err := w.runner.Tenant(ctx, b.tenant); err != nil {
		t.Fatal(err)
	}
	b.authorize(3) // the spare: nothing moves to it while the others are well
	if rep, _, err := w.runner.Tenant(ctx, b.tenant); err != nil || rep.Outcomes[b.monitors[3]] != engine.Unchanged {
		t.Fatalf("after the spare came: %+v %v", rep, err)
	}
	var lost []uuid.UUID
	rows, _ := b.pool.Query(ctx, `SELECT object_id FROM directory_users WHERE monitor_id = $1`, b.monitors[0])
	for rows.Next() {
		var u uuid.UUID
		rows.Scan(&u)
		lost = append(lost, u)
	}
	rows.Close()
	if len(lost) != 30 {
		t.Fatalf("monitor 0 carries %d users, want 30", len(lost))
	}

	// The admin revokes the monitor's sessions. Graph pauses its
	// subscription and says reauthorizationRequired; the engine finds the
	// grant gone at once (not when the cached token runs out).
	b.e.Sim.RevokeUser(b.ten.Monitors[0].ID)
	b.e.Advance(time.Minute)
	b.e.Sim.TickNotifications()
	eventually(t, "the lifecycle notification", func() bool {
		var n int
		b.pool.QueryRow(ctx, `SELECT count(*) FROM subscription_events WHERE event = 'reauthorizationRequired'`).Scan(&n)
		return n > 0
	})
	rep, _, err := w.runner.Tenant(ctx, b.tenant)
	if err != nil || rep.Unmonitored != 0 || rep.Outcomes[b.monitors[3]] != engine.Created {
		t.Fatalf("failover pass: %+v %v", rep, err)
	}
	m, _ := b.st.GetMonitor(ctx, b.tenant, b.monitors[0])
	if m.Status != store.MonitorNeedsReauth {
		t.Errorf("revoked monitor is %s", m.Status)
	}
	alerts, _ := b.st.Alerts(ctx, b.tenant)
	if len(alerts) != 1 || alerts[0].Kind != store.AlertMonitorNeedsReauth || alerts[0].Subject != b.monitors[0].String() || alerts[0].ResolvedAt != nil {
		t.Errorf("alerts = %+v", alerts)
	}
	for _, u := range lost {
		var on uuid.UUID
		b.pool.QueryRow(ctx, `SELECT monitor_id FROM directory_users WHERE object_id = $1`, u).Scan(&on)
		if on != b.monitors[3] {
			t.Fatalf("user %s is on %s, want the spare", u, on)
		}
	}
	var spare graphsim.Subscription
	for _, s := range b.ours() {
		if s.CreatorID == b.ten.Monitors[3].ID.String() {
			spare = s
		}
	}
	for _, u := range lost {
		if !strings.Contains(spare.Resource, u.String()) {
			t.Fatalf("the spare's subscription does not cover %s", u)
		}
	}
	// The revoked monitor's subscription cannot be deleted with its dead
	// grant: it is left to expire, its row kept until then.
	var abandoned bool
	if err := b.pool.QueryRow(ctx, `SELECT abandoned_at IS NOT NULL FROM subscriptions WHERE monitor_id = $1`, b.monitors[0]).Scan(&abandoned); err == nil && !abandoned {
		t.Error("the revoked monitor's subscription is neither deleted nor abandoned")
	}
	// A moved user's next change arrives through the spare.
	if err := b.e.Sim.SetTeamsPresence(lost[7], "Busy", "InAConferenceCall"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the moved user's change", func() bool {
		a, act := b.held(lost[7])
		return a == "Busy" && act == "InAConferenceCall"
	})
	// An hour later the abandoned subscription has expired and its row is gone.
	b.e.Advance(time.Hour)
	b.e.Sim.TickNotifications()
	if _, _, err := w.runner.Tenant(ctx, b.tenant); err != nil {
		t.Fatal(err)
	}
	var left int
	b.pool.QueryRow(ctx, `SELECT count(*) FROM subscriptions WHERE monitor_id = $1`, b.monitors[0]).Scan(&left)
	if left != 0 {
		t.Errorf("the revoked monitor's subscription row outlived its expiry")
	}
}

// timedRecorder keeps when each request went and what came back, under
// the SDK's retry middleware.
type timedRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []timedRequest
}

type timedRequest struct {
	Method, Path string
	Start, End   time.Time
	Status       int
	RetryAfter   string
}

func (r *timedRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := r.next.RoundTrip(req)
	tr := timedRequest{Method: req.Method, Path: req.URL.Path, Start: start, End: time.Now()}
	if resp != nil {
		tr.Status, tr.RetryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, tr)
	r.mu.Unlock()
	return resp, err
}

func (r *timedRecorder) all() []timedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]timedRequest(nil), r.reqs...)
}

func TestEngineSurvivesA429StormHonouringRetryAfter(t *testing.T) {
	b := newBridge(t, bridgeOptions{users: 100, monitors: 2, authorized: 2})
	rec := &timedRecorder{next: http.DefaultTransport}
	w := b.worker(0, rec)
	ctx := t.Context()
	b.e.Sim.AddThrottleFault(graphsim.ThrottleFault{Class: "subscriptionWrite", RetryAfter: 2, Times: 3})
	b.e.Sim.AddThrottleFault(graphsim.ThrottleFault{Class: "presence", RetryAfter: 1, Times: 1})
	rep, _, err := w.runner.Tenant(ctx, b.tenant)
	if err != nil || len(b.ours()) != 2 || rep.Repaired != 100 {
		t.Fatalf("through the storm: %+v %v, %d subscriptions", rep, err, len(b.ours()))
	}
	reqs := rec.all()
	throttled := 0
	for i, q := range reqs {
		if q.Status != http.StatusTooManyRequests {
			continue
		}
		throttled++
		wait, _ := time.ParseDuration(q.RetryAfter + "s")
		next := -1
		for j := i + 1; j < len(reqs); j++ {
			if reqs[j].Method == q.Method && reqs[j].Path == q.Path && reqs[j].Start.After(q.End) {
				next = j
				break
			}
		}
		if next < 0 {
			t.Errorf("%s %s throttled and never retried", q.Method, q.Path)
			continue
		}
		if got := reqs[next].Start.Sub(q.End); got < wait {
			t.Errorf("%s %s retried %v after a 429 asking for %v", q.Method, q.Path, got, wait)
		}
	}
	if throttled != 4 {
		t.Errorf("%d throttled answers seen, want 4", throttled)
	}
}

func TestReconciliationRepairsNotificationsDroppedForTwoMinutes(t *testing.T) {
	b := newBridge(t, bridgeOptions{users: 40, monitors: 1, authorized: 1, pipeline: true})
	w := b.worker(0, nil)
	ctx := t.Context()
	if _, _, err := w.runner.Tenant(ctx, b.tenant); err != nil {
		t.Fatal(err)
	}
	users := b.ten.Users
	if err := b.e.Sim.SetTeamsPresence(users[0].ID, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a notification before the outage", func() bool { a, _ := b.held(users[0].ID); return a == "Busy" })

	// Graph drops every notification for two minutes; ten users change.
	f, err := b.e.Sim.AddNotificationFault(graphsim.NotificationFault{Drop: 1_000_000})
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range users[1:11] {
		if i == 5 {
			b.e.Advance(time.Minute)
		}
		if err := b.e.Sim.SetTeamsPresence(u.ID, "DoNotDisturb", "Presenting"); err != nil {
			t.Fatal(err)
		}
	}
	b.e.Advance(time.Minute)
	b.e.Sim.TickNotifications()
	eventually(t, "graphsim to drop the ten changes", func() bool { return b.e.Sim.NotificationStats().Dropped >= 10 })
	b.e.Sim.RemoveNotificationFault(f.ID)
	for _, u := range users[1:11] {
		if a, _ := b.held(u.ID); a == "DoNotDisturb" {
			t.Fatalf("user %s's change arrived although Graph dropped it", u.UPN)
		}
	}
	// The periodic reconciliation (due 10 minutes after the last) re-reads
	// everyone and repairs exactly the ten.
	b.e.Advance(10 * time.Minute)
	rep, _, err := w.runner.Tenant(ctx, b.tenant)
	if err != nil || rep.Repaired != 10 {
		t.Fatalf("repair pass: %+v %v; want 10 repaired", rep, err)
	}
	for _, u := range users[1:11] {
		a, act := b.held(u.ID)
		var source string
		b.pool.QueryRow(ctx, `SELECT source FROM presence_events WHERE user_object_id = $1 ORDER BY id DESC LIMIT 1`, u.ID).Scan(&source)
		if a != "DoNotDisturb" || act != "Presenting" || source != "repair" {
			t.Errorf("user %s after repair: %s/%s by %q", u.UPN, a, act, source)
		}
	}
}

func TestTwoWorkersRenewEachSubscriptionOncePerCycle(t *testing.T) {
	b := newBridge(t, bridgeOptions{users: 100, monitors: 4, authorized: 4})
	recs := []*timedRecorder{{next: http.DefaultTransport}, {next: http.DefaultTransport}}
	workers := []*worker{b.worker(0, recs[0]), b.worker(0, recs[1])}
	ctx := t.Context()
	both := func() {
		var wg sync.WaitGroup
		for _, w := range workers {
			wg.Go(func() {
				if err := w.runner.Cycle(ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	both()
	if n := len(b.ours()); n != 4 {
		t.Fatalf("%d subscriptions, want 4", n)
	}
	patches := func() map[string]int {
		out := map[string]int{}
		for _, r := range recs {
			for _, q := range r.all() {
				if q.Method == http.MethodPatch && strings.Contains(q.Path, "/subscriptions/") {
					out[q.Path]++
				}
			}
		}
		return out
	}
	for cycle := 1; cycle <= 5; cycle++ {
		// Every subscription inside its renewal window; both workers run
		// three times, at once, as their minute ticks would.
		var latest time.Time
		for _, s := range b.ours() {
			exp, _ := time.Parse(time.RFC3339Nano, s.ExpirationDateTime)
			if exp.After(latest) {
				latest = exp
			}
		}
		b.e.Advance(latest.Sub(b.e.Now()) - 9*time.Minute)
		for range 3 {
			both()
		}
		got := patches()
		if len(got) != 4 {
			t.Fatalf("cycle %d: renewals of %d subscriptions, want 4: %v", cycle, len(got), got)
		}
		for path, n := range got {
			if n != cycle {
				t.Fatalf("cycle %d: %s renewed %d times in all, want %d (once per cycle)", cycle, path, n, cycle)
			}
		}
	}
	var total int
	b.pool.QueryRow(ctx, `SELECT sum(renewals) FROM subscriptions`).Scan(&total)
	if total != 20 {
		t.Errorf("renewals recorded = %d, want 20", total)
	}
}

func TestEnginePlacesNewRosterEntriesInTheSamePass(t *testing.T) {
	b := newBridge(t, bridgeOptions{users: 60, monitors: 1, authorized: 1, pipeline: true})
	ctx := t.Context()
	// The roster as an admin left it: 40 users already placed, 20 entries
	// just imported (pending) and one that does not exist.
	testkit.Exec(t, b.pool, `DELETE FROM directory_users WHERE tenant_id = $1 AND upn = ANY($2)`, b.tenant, upns(b.ten.Users[40:]))
	w := b.worker(0, nil)
	if _, _, err := w.runner.Tenant(ctx, b.tenant); err != nil {
		t.Fatal(err)
	}
	var entries []roster.Entry
	for _, u := range b.ten.Users[40:] {
		entries = append(entries, roster.Entry{UPN: u.UPN, TelephonyID: "ext-" + u.UPN})
	}
	entries = append(entries, roster.Entry{UPN: "nobody@" + b.ten.Domain})
	if _, err := roster.New(b.st).Import(ctx, b.tenant, entries, roster.ImportOptions{Source: store.SourceList}); err != nil {
		t.Fatal(err)
	}
	rep, _, err := w.runner.Tenant(ctx, b.tenant)
	if err != nil || rep.Users != 60 {
		t.Fatalf("pass after the import: %+v %v", rep, err)
	}
	subs := b.ours()
	if len(subs) != 1 || usersIn(subs[0].Resource) != 60 {
		t.Fatalf("subscriptions after the import: %+v", subs)
	}
	for _, u := range b.ten.Users[40:] {
		if !strings.Contains(subs[0].Resource, u.ID.String()) {
			t.Fatalf("%s imported but not covered", u.UPN)
		}
		if a, _ := b.held(u.ID); a == "" {
			t.Fatalf("%s covered but its presence not read", u.UPN)
		}
	}
	var status string
	b.pool.QueryRow(ctx, `SELECT resolution_status FROM directory_users WHERE upn = $1`, "nobody@"+b.ten.Domain).Scan(&status)
	if status != "not_found" {
		t.Errorf("the unknown entry is %q, want not_found", status)
	}
}

func TestEngineDeletesARemovedMonitorsSubscriptionThenTheMonitor(t *testing.T) {
	b := newBridge(t, bridgeOptions{users: 40, monitors: 2, authorized: 2})
	w := b.worker(0, nil)
	ctx := t.Context()
	if _, _, err := w.runner.Tenant(ctx, b.tenant); err != nil || len(b.ours()) != 2 {
		t.Fatalf("first pass: %v, %d subscriptions", err, len(b.ours()))
	}
	deferred, err := b.st.RemoveMonitor(ctx, b.tenant, b.monitors[1])
	if err != nil || !deferred {
		t.Fatalf("RemoveMonitor = %v, %v; want deferred while it holds a subscription", deferred, err)
	}
	if ms, _ := b.st.Monitors(ctx, b.tenant); len(ms) != 1 {
		t.Fatalf("a removed monitor is still listed: %+v", ms)
	}
	rep, _, err := w.runner.Tenant(ctx, b.tenant)
	if err != nil || rep.Unmonitored != 0 {
		t.Fatalf("pass after the removal: %+v %v", rep, err)
	}
	subs := b.ours()
	if len(subs) != 1 || subs[0].CreatorID != b.ten.Monitors[0].ID.String() || usersIn(subs[0].Resource) != 40 {
		t.Fatalf("at Graph after the removal: %+v", subs)
	}
	var left int
	b.pool.QueryRow(ctx, `SELECT count(*) FROM monitors WHERE id = $1`, b.monitors[1]).Scan(&left)
	if left != 0 {
		t.Error("the removed monitor's row outlived its subscription")
	}
}

func TestEngineMovesSubscriptionsToARotatedCertificateAndRetiresTheOld(t *testing.T) {
	b := newBridge(t, bridgeOptions{users: 20, monitors: 2, authorized: 2})
	w := b.worker(0, nil)
	ctx := t.Context()
	if err := w.runner.Cycle(ctx); err != nil {
		t.Fatal(err)
	}
	var old string
	b.pool.QueryRow(ctx, `SELECT id FROM encryption_certs`).Scan(&old)
	// The certificate nears its end: the next subscription made gets a new one.
	testkit.Exec(t, b.pool, `UPDATE encryption_certs SET not_after = now() + interval '1 day'`)
	latest := b.e.Now()
	for _, s := range b.ours() {
		exp, _ := time.Parse(time.RFC3339Nano, s.ExpirationDateTime)
		if exp.After(latest) {
			latest = exp
		}
	}
	b.e.Advance(latest.Sub(b.e.Now()) - 9*time.Minute) // both at their renewal point
	if err := w.runner.Cycle(ctx); err != nil {
		t.Fatal(err)
	}
	subs := b.ours()
	if len(subs) != 2 {
		t.Fatalf("%d subscriptions after the rotation, want 2", len(subs))
	}
	for _, s := range subs {
		if s.EncryptionCertificateID == nil || *s.EncryptionCertificateID == old {
			t.Fatalf("subscription %s still on the old certificate", s.ID)
		}
	}
	var retired bool
	b.pool.QueryRow(ctx, `SELECT retired_at IS NOT NULL FROM encryption_certs WHERE id = $1`, old).Scan(&retired)
	if !retired {
		t.Error("the old certificate is not retired once no subscription uses it")
	}
}

func TestEngineFollowsTheDirectoryForAccountsDisabledDeletedOrRenamed(t *testing.T) {
	b := newBridge(t, bridgeOptions{users: 30, monitors: 1, authorized: 1})
	w := b.worker(0, nil)
	ctx := t.Context()
	if _, _, err := w.runner.Tenant(ctx, b.tenant); err != nil {
		t.Fatal(err)
	}
	if f, _ := b.st.DirectoryFollowState(ctx, b.tenant); f.DeltaLink == "" || f.LastError != "" {
		t.Fatalf("after the first round: %+v", f)
	}
	disabled, deleted, renamed := b.ten.Users[3], b.ten.Users[4], b.ten.Users[5]
	req, _ := http.NewRequest(http.MethodPatch, b.e.Base+"/_sim/users/"+disabled.ID.String(), strings.NewReader(`{"enabled": false}`))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("disable: %v %v", resp, err)
	}
	if err := b.e.Sim.DeleteUser(deleted.ID, false); err != nil {
		t.Fatal(err)
	}
	newUPN := "renamed." + renamed.UPN
	if err := b.e.Sim.RenameUser(renamed.ID, graphsim.UserRename{UPN: newUPN}); err != nil {
		t.Fatal(err)
	}
	// Within the quarter hour nothing is asked; after it, the delta round.
	b.e.Advance(16 * time.Minute)
	if _, _, err := w.runner.Tenant(ctx, b.tenant); err != nil {
		t.Fatal(err)
	}
	status := func(u graphsim.SeedUser) (st, upn string, monitored bool) {
		var graphUPN *string
		b.pool.QueryRow(ctx, `SELECT resolution_status, graph_upn, monitor_id IS NOT NULL FROM directory_users WHERE object_id = $1`, u.ID).
			Scan(&st, &graphUPN, &monitored)
		if graphUPN != nil {
			upn = *graphUPN
		}
		return
	}
	if st, _, on := status(disabled); st != "disabled" || on {
		t.Errorf("disabled account: %s, monitored %v", st, on)
	}
	if st, _, on := status(deleted); st != "not_found" || on {
		t.Errorf("deleted account: %s, monitored %v", st, on)
	}
	if st, upn, on := status(renamed); st != "resolved" || upn != newUPN || !on {
		t.Errorf("renamed account: %s %q, monitored %v", st, upn, on)
	}
	subs := b.ours()
	if len(subs) != 1 || usersIn(subs[0].Resource) != 28 || strings.Contains(subs[0].Resource, disabled.ID.String()) ||
		strings.Contains(subs[0].Resource, deleted.ID.String()) {
		t.Fatalf("subscription after the directory changed: %+v", subs)
	}
	// Restored from the recycle bin: monitored again.
	if err := b.e.Sim.RestoreUser(deleted.ID); err != nil {
		t.Fatal(err)
	}
	b.e.Advance(16 * time.Minute)
	if _, _, err := w.runner.Tenant(ctx, b.tenant); err != nil {
		t.Fatal(err)
	}
	if st, _, on := status(deleted); st != "resolved" || !on {
		t.Errorf("restored account: %s, monitored %v", st, on)
	}
}

// A suspended tenant's subscriptions, and a deleted one's (kept for its
// grace period, then purged), are deleted at Graph by the next pass.
func TestEngineDeletesASuspendedOrDeletedTenantsSubscriptions(t *testing.T) {
	for _, status := range []string{"suspended", "deleted"} {
		t.Run(status, func(t *testing.T) {
			b := newBridge(t, bridgeOptions{users: 20, monitors: 2, authorized: 2})
			w := b.worker(0, nil)
			ctx := t.Context()
			if err := w.runner.Cycle(ctx); err != nil || len(b.ours()) != 2 {
				t.Fatalf("first cycle: %v, %d subscriptions", err, len(b.ours()))
			}
			testkit.Exec(t, b.pool, `UPDATE tenants SET status = $2 WHERE id = $1`, b.tenant, status)
			if err := w.runner.Cycle(ctx); err != nil {
				t.Fatal(err)
			}
			var rows int
			b.pool.QueryRow(ctx, `SELECT count(*) FROM subscriptions WHERE tenant_id = $1`, b.tenant).Scan(&rows)
			if n := len(b.ours()); n != 0 || rows != 0 {
				t.Errorf("once %s: %d subscriptions at Graph, %d rows", status, n, rows)
			}
		})
	}
}
