package graph

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
	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/graphsim"
	"presencebridge/internal/identity"
	"presencebridge/internal/intake"
	"presencebridge/internal/notification"
	"presencebridge/internal/seal"
	"presencebridge/internal/store"
	"presencebridge/internal/subscribe"
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
}

func newBridge(t *testing.T, o bridgeOptions) *bridge {
	t.Helper()
	e := newEnv(t)
	ctx := t.Context()
	ten, err := e.sim.CreateTenant(o.users, o.monitors, e.seed.App.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	b := &bridge{t: t, e: e, ten: ten, pool: testkit.DB(t), app: identity.App{ClientID: e.seed.App.ClientID, ClientSecret: e.seed.App.ClientSecret}}
	k, _ := seal.GenerateKey("k1")
	ring, _ := seal.NewRing([]seal.Key{k}, "k1")
	b.st, b.ring = store.New(b.pool, ring), ring
	if b.idc, err = identity.New(identity.Options{LoginURL: e.base}); err != nil {
		t.Fatal(err)
	}
	if err := b.pool.QueryRow(ctx, `INSERT INTO tenants (name, ms_tenant_id, status) VALUES ('Fabrikam', $1, 'active') RETURNING id`, ten.ID).Scan(&b.tenant); err != nil {
		t.Fatal(err)
	}
	_, err = b.pool.Exec(ctx, `INSERT INTO directory_users (tenant_id, upn, object_id, resolution_status)
		SELECT $1, u.upn, u.id, 'resolved' FROM unnest($2::text[], $3::uuid[]) WITH ORDINALITY AS u (upn, id, n) ORDER BY n`,
		b.tenant, upns(ten.Users), ids(ten.Users))
	if err != nil {
		t.Fatal(err)
	}
	for i, acct := range ten.Monitors {
		m, err := b.st.AddMonitor(ctx, b.pool, b.tenant, acct.UPN)
		if err != nil {
			t.Fatal(err)
		}
		b.monitors = append(b.monitors, m.ID)
		if i < o.authorized {
			b.authorize(i)
		}
	}
	b.cm = certs.New(b.st, e.now)
	if o.pipeline {
		b.hook = b.startPipeline()
	} else {
		b.hook = strings.TrimSuffix(newWebhook(t).URL, "/notifications")
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
	g.Expiry = b.e.now().Add(time.Until(g.Expiry))
	err = b.st.AuthorizeMonitor(b.t.Context(), b.pool, b.tenant, b.monitors[i], store.MonitorGrant{ObjectID: g.Account.ObjectID,
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
	validator, err := notification.NewValidator(ctx, notification.ValidatorOptions{LoginURL: b.e.base,
		Audiences: []string{b.app.ClientID}, Now: b.e.now})
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
	r.Route("/graph", graphhook.New(graphhook.Deps{DB: b.pool, Subs: b.st, Committer: committer}).Routes)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv.URL + "/graph"
}

// worker is one instance of the product's engine: its own connection
// pool, token vault, Graph clients and runner, sharing only the database.
type worker struct {
	runner  *subscribe.Runner
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
	vault := tokens.New(st, skewedRefresher{b.idc, b.e}, creds, b.e.now)
	cl := &vaultClients{b: b, vault: vault, transport: transport}
	eng := subscribe.New(st, certs.New(st, b.e.now), b.hook+"/notifications", b.hook+"/lifecycle", b.e.now)
	rec := subscribe.NewReconciler(st, eng, cl, capacity, nil)
	return &worker{runner: subscribe.NewRunner(st, rec, vault, subscribe.RunnerOptions{}), vault: vault, clients: cl, pool: pool}
}

// skewedRefresher is the identity platform seen from graphsim's clock:
// a token's lifetime counts from the Sim's now.
type skewedRefresher struct {
	c *identity.Client
	e *env
}

func (s skewedRefresher) Refresh(ctx context.Context, app identity.App, tenant, rt string) (identity.Grant, error) {
	g, err := s.c.Refresh(ctx, app, tenant, rt)
	g.Expiry = s.e.now().Add(time.Until(g.Expiry))
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
	return New(Options{BaseURL: c.b.e.base + "/v1.0", Transport: c.transport, Token: func(ctx context.Context) (string, error) {
		return c.vault.MonitorToken(ctx, tenantID, monitorID)
	}})
}

func (c *vaultClients) Reader(context.Context, uuid.UUID) (graphapi.PresenceReader, error) {
	return New(Options{BaseURL: c.b.e.base + "/v1.0", Transport: c.transport, Token: func(ctx context.Context) (string, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.b.e.now().Add(5 * time.Minute).Before(c.app.Expiry) {
			return c.app.AccessToken, nil
		}
		tok, err := c.b.idc.AppTokenFor(ctx, c.b.app, c.b.ten.ID.String())
		if err != nil {
			return "", err
		}
		tok.Expiry = c.b.e.now().Add(time.Until(tok.Expiry))
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
	for _, s := range b.e.sim.Subscriptions() {
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
	if err := b.e.sim.SetTeamsPresence(u, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the call in the presence table", func() bool {
		a, act := b.held(u)
		return a == "Busy" && act == "InACall"
	})
	var source string
	b.pool.QueryRow(t.Context(), `SELECT source FROM presence_events WHERE tenant_id = $1 AND user_object_id = $2 ORDER BY id DESC LIMIT 1`,
		b.tenant, u).Scan(&source)
	if source == "repair" || source == "" {
		t.Errorf("the change came by %q, want the notification", source)
	}
	sts, _ := b.st.MonitorStatuses(t.Context(), b.pool, b.tenant)
	for _, m := range sts {
		if m.UsersAssigned != 500 || m.SubscriptionID == "" || m.ExpiresAt == nil || m.LastError != "" {
			t.Errorf("monitor status = %+v", m)
		}
	}
	es, _ := b.st.EngineStatus(t.Context(), b.pool, b.tenant)
	if es.Users != 2000 || es.Monitors != 4 || es.Unmonitored != 0 || es.LastReconciledAt == nil || es.LastRepairAt == nil || es.LastError != "" {
		t.Errorf("engine status = %+v", es)
	}
}
