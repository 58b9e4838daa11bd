package enginetest

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/certs"
	"presencebridge/internal/engine"
	"presencebridge/internal/graph"
	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/graphsim"
	"presencebridge/internal/identity"
	"presencebridge/internal/seal"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
	"presencebridge/internal/tokens"
)

// A fleet is many tenants of one graphsim connected to one product
// database, worked on by one engine process (Runner.Cycle), as a worker
// runs it: for the engine's behaviour at scale — renewals spread over the
// hour, a restart with thousands of subscriptions due. The people per
// monitor are few (fleetOptions.usersPer): what is measured here is the
// subscriptions' schedule, which does not depend on how many users a
// subscription lists; the repairs that follow a new subscription read them
// all the same.
type fleet struct {
	t       *testing.T
	e       *env
	pool    *pgxpool.Pool
	st      *store.Store
	ring    *seal.Ring
	idc     *identity.Client
	app     identity.App
	hook    string
	tenants []fleetTenant
	byOurs  map[uuid.UUID]fleetTenant
	wire    *wireLog
}

type fleetTenant struct {
	ms       graphsim.SeedTenant
	ours     uuid.UUID
	monitors []uuid.UUID
}

// fleetOptions: tenants[i] monitors for tenant i, usersPer people per
// monitor.
type fleetOptions struct {
	monitors []int
	usersPer int
}

func newFleet(t *testing.T, o fleetOptions) *fleet {
	t.Helper()
	e := newEnv(t)
	ctx := t.Context()
	pool := testkit.DB(t)
	f := &fleet{t: t, e: e, pool: pool, ring: storetest.Ring(t), byOurs: map[uuid.UUID]fleetTenant{},
		app: identity.App{ClientID: e.Seed.App.ClientID, ClientSecret: e.Seed.App.ClientSecret}}
	f.st = store.New(pool, f.ring)
	var err error
	if f.idc, err = identity.New(identity.Options{LoginURL: e.Base}); err != nil {
		t.Fatal(err)
	}
	f.tenants = make([]fleetTenant, len(o.monitors))
	// Tenants are made a few at a time: each monitor's sign-in is a token
	// request to graphsim.
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, n := range o.monitors {
		ms, err := e.Sim.CreateTenant(n*o.usersPer, n, e.Seed.App.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ft := f.connect(ctx, ms, i)
			mu.Lock()
			f.tenants[i], f.byOurs[ft.ours] = ft, ft
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	cm := certs.New(f.st, e.Now)
	f.hook = (&bridge{t: t, e: e, pool: pool, st: f.st, cm: cm}).startPipeline()
	f.wire = &wireLog{now: e.Now}
	return f
}

// connect makes our tenant for graphsim's ms: its people resolved, its
// monitors signed in as onboarding does.
func (f *fleet) connect(ctx context.Context, ms graphsim.SeedTenant, i int) fleetTenant {
	t := f.t
	ft := fleetTenant{ms: ms}
	err := f.pool.QueryRow(ctx, `INSERT INTO tenants (name, ms_tenant_id, status) VALUES ($1, $2, 'active') RETURNING id`,
		"Fleet "+ms.Domain, ms.ID).Scan(&ft.ours)
	if err != nil {
		t.Error(err)
		return ft
	}
	_, err = f.pool.Exec(ctx, `INSERT INTO directory_users (tenant_id, upn, object_id, resolution_status)
		SELECT $1, u.upn, u.id, 'resolved' FROM unnest($2::text[], $3::uuid[]) AS u (upn, id)`, ft.ours, upns(ms.Users), ids(ms.Users))
	if err != nil {
		t.Error(err)
		return ft
	}
	for _, acct := range ms.Monitors {
		m, err := f.st.AddMonitor(ctx, ft.ours, acct.UPN)
		if err != nil {
			t.Error(err)
			return ft
		}
		g, err := f.idc.PasswordOnce(ctx, f.app, ms.ID.String(), acct.UPN, acct.Password)
		if err != nil {
			t.Error(err)
			return ft
		}
		g.Expiry = f.e.Now().Add(time.Until(g.Expiry))
		err = f.st.AuthorizeMonitor(ctx, ft.ours, m.ID, store.MonitorGrant{ObjectID: g.Account.ObjectID,
			DisplayName: g.Account.Name, Method: "password", RefreshToken: g.RefreshToken, AccessToken: g.AccessToken, Expiry: g.Expiry})
		if err != nil {
			t.Error(err)
			return ft
		}
		ft.monitors = append(ft.monitors, m.ID)
	}
	return ft
}

func (f *fleet) subscriptions() int {
	n := 0
	for _, ft := range f.tenants {
		n += len(ft.monitors)
	}
	return n
}

// runner is one worker's engine over the whole fleet: its own pool, vault
// and Graph clients (retries on, as in production), every request logged
// in f.wire. change adjusts the runner's options.
func (f *fleet) runner(change ...func(*engine.RunnerOptions)) *engine.Runner {
	f.t.Helper()
	return f.runnerWithConns(20, change...) // PB_DB_MAX_CONNS's default
}

// runnerWithConns is runner with a pool of conns connections.
func (f *fleet) runnerWithConns(conns int32, change ...func(*engine.RunnerOptions)) *engine.Runner {
	f.t.Helper()
	cfg := f.pool.Config().Copy()
	cfg.MaxConns = conns
	pool, err := pgxpool.NewWithConfig(f.t.Context(), cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(pool.Close)
	st := store.New(pool, f.ring)
	creds := func(_ context.Context, tenantID uuid.UUID) (identity.App, string, error) {
		return f.app, f.byOurs[tenantID].ms.ID.String(), nil
	}
	vault := tokens.New(st, skewedRefresher{f.idc, f.e}, creds, f.e.Now)
	cl := &fleetClients{f: f, vault: vault, apps: map[uuid.UUID]identity.AppToken{}}
	eng := engine.New(st, certs.New(st, f.e.Now), f.hook+"/notifications", f.hook+"/lifecycle", f.e.Now)
	rec := engine.NewReconciler(st, eng, cl, 0, nil)
	var opts engine.RunnerOptions
	for _, c := range change {
		c(&opts)
	}
	return engine.NewRunner(st, rec, vault, opts)
}

// fleetClients are vaultClients for many tenants.
type fleetClients struct {
	f     *fleet
	vault *tokens.Vault
	mu    sync.Mutex
	apps  map[uuid.UUID]identity.AppToken
}

func (c *fleetClients) Monitor(_ context.Context, tenantID, monitorID uuid.UUID) (graphapi.Subscriber, error) {
	return graph.New(graph.Options{BaseURL: c.f.e.Base + "/v1.0", Transport: c.f.wire, Token: func(ctx context.Context) (string, error) {
		return c.vault.MonitorToken(ctx, tenantID, monitorID)
	}})
}

func (c *fleetClients) Reader(_ context.Context, tenantID uuid.UUID) (graphapi.PresenceReader, error) {
	return graph.New(graph.Options{BaseURL: c.f.e.Base + "/v1.0", Transport: c.f.wire, Token: func(ctx context.Context) (string, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if tok := c.apps[tenantID]; c.f.e.Now().Add(5 * time.Minute).Before(tok.Expiry) {
			return tok.AccessToken, nil
		}
		tok, err := c.f.idc.AppTokenFor(ctx, c.f.app, c.f.byOurs[tenantID].ms.ID.String())
		if err != nil {
			return "", err
		}
		tok.Expiry = c.f.e.Now().Add(time.Until(tok.Expiry))
		c.apps[tenantID] = tok
		return tok.AccessToken, nil
	}})
}

// wireLog keeps every Graph request's method, path, status and the Sim's
// time it was sent at.
type wireLog struct {
	now  func() time.Time
	next http.RoundTripper
	mu   sync.Mutex
	reqs []wireRequest
}

type wireRequest struct {
	Method, Path string
	At           time.Time // the Sim's clock
	Status       int
}

func (w *wireLog) RoundTrip(req *http.Request) (*http.Response, error) {
	next := w.next
	if next == nil {
		next = http.DefaultTransport
	}
	at := w.now()
	resp, err := next.RoundTrip(req)
	r := wireRequest{Method: req.Method, Path: req.URL.Path, At: at}
	if resp != nil {
		r.Status = resp.StatusCode
	}
	w.mu.Lock()
	w.reqs = append(w.reqs, r)
	w.mu.Unlock()
	return resp, err
}

// subscriptionWrites are the requests on /subscriptions with method (""
// for any write) since from.
func (w *wireLog) subscriptionWrites(method string, from time.Time) []wireRequest {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []wireRequest
	for _, r := range w.reqs {
		if !strings.Contains(r.Path, "/subscriptions") || r.At.Before(from) || r.Method == http.MethodGet {
			continue
		}
		if method == "" || r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

// lapsed lists graphsim's subscriptions whose expiry has passed (graphsim
// deletes them on its next tick; the caller looks first).
func (f *fleet) lapsed() []graphsim.Subscription {
	now := f.e.Now()
	var out []graphsim.Subscription
	for _, s := range f.e.Sim.Subscriptions() {
		exp, err := time.Parse(time.RFC3339Nano, s.ExpirationDateTime)
		if err != nil || !exp.After(now) {
			out = append(out, s)
		}
	}
	return out
}
