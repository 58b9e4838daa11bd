package main

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/certs"
	"presencebridge/internal/engine"
	"presencebridge/internal/graph"
	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/identity"
	"presencebridge/internal/roster"
	"presencebridge/internal/tokens"
)

// graphClients builds Graph clients for the subscription engine: a
// monitor's from the token vault (refreshed under its row lock), the
// app-only reader from client credentials, per tenant.
type graphClients struct {
	a     *app
	vault *tokens.Vault
	creds tokens.Credentials
	id    *identity.Client

	mu   sync.Mutex // guards apps only, never held across a network call
	apps map[uuid.UUID]*appClient
}

func (g *graphClients) base() string { return strings.TrimSuffix(g.a.cfg.GraphBaseURL, "/") + "/v1.0" }

func (g *graphClients) Monitor(ctx context.Context, tenantID, monitorID uuid.UUID) (graphapi.Subscriber, error) {
	return graph.New(graph.Options{BaseURL: g.base(), Token: func(ctx context.Context) (string, error) {
		return g.vault.MonitorToken(ctx, tenantID, monitorID)
	}})
}

// Reader reads presence for repairs with the tenant's app-only token
// where the tenant granted Presence.Read.All (application), else with one
// of its authorized monitors' delegated tokens.
func (g *graphClients) Reader(ctx context.Context, tenantID uuid.UUID) (graphapi.PresenceReader, error) {
	c, roles, err := g.appClient(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(roles, "Presence.Read.All") {
		return g.monitorReader(ctx, tenantID)
	}
	return c, nil
}

// Directory is the app-only client the roster resolves users and reads
// groups with.
func (g *graphClients) Directory(ctx context.Context, tenantID uuid.UUID) (roster.Directory, error) {
	c, _, err := g.appClient(ctx, tenantID)
	return c, err
}

// CheckAccess asks the identity platform for a new app-only token for the
// tenant, whatever is cached: a withdrawn consent shows only there (an
// access token already issued stays valid until it expires). The new
// token replaces the cached one, so the check costs one token request per
// tenant and pass.
func (g *graphClients) CheckAccess(ctx context.Context, tenantID uuid.UUID) (engine.Access, error) {
	app, msTenant, err := g.creds(ctx, tenantID)
	if err != nil {
		return engine.Access{}, err
	}
	acc := engine.Access{ClientID: app.ClientID, MSTenant: msTenant, OwnApp: app.ClientID != g.a.cfg.ClientID,
		// The tenant-wide admin consent URL (no state or redirect needed):
		// https://learn.microsoft.com/entra/identity/enterprise-apps/grant-admin-consent
		ConsentURL: strings.TrimSuffix(g.a.cfg.LoginBaseURL, "/") + "/" + url.PathEscape(msTenant) +
			"/adminconsent?client_id=" + url.QueryEscape(app.ClientID)}
	_, err = g.app(tenantID).token(ctx, true)
	return acc, err
}

// appClient is a tenant's app-only client and its token. mu is the
// tenant's own: a slow token request holds up that tenant alone.
type appClient struct {
	g        *graphClients
	tenantID uuid.UUID
	c        *graph.Client

	mu  sync.Mutex
	tok identity.AppToken // zero until a request succeeds
}

func (g *graphClients) app(tenantID uuid.UUID) *appClient {
	g.mu.Lock()
	defer g.mu.Unlock()
	ac := g.apps[tenantID]
	if ac == nil {
		ac = &appClient{g: g, tenantID: tenantID}
		g.apps[tenantID] = ac
	}
	return ac
}

// token returns the cached token while it has 5 minutes left (or always a
// new one with fresh). A failed request is never cached; one saying the
// tenant's access is gone (consent withdrawn, say) also drops the cached
// token, so nothing more is read with a grant the customer took back.
func (ac *appClient) token(ctx context.Context, fresh bool) (identity.AppToken, error) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if !fresh && time.Until(ac.tok.Expiry) > 5*time.Minute {
		return ac.tok, nil
	}
	app, msTenant, err := ac.g.creds(ctx, ac.tenantID)
	if err != nil {
		return identity.AppToken{}, err
	}
	t, err := ac.g.id.AppTokenFor(ctx, app, msTenant)
	if err != nil {
		if _, gone := identity.TenantProblemOf(err); gone {
			ac.tok = identity.AppToken{}
		}
		return identity.AppToken{}, err
	}
	ac.tok = t
	return t, nil
}

// appClient is the tenant's app-only client (its token cached until 5
// minutes before expiry) and the roles its token carries.
func (g *graphClients) appClient(ctx context.Context, tenantID uuid.UUID) (*graph.Client, []string, error) {
	ac := g.app(tenantID)
	tok, err := ac.token(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if ac.c == nil {
		c, err := graph.New(graph.Options{BaseURL: g.base(), Token: func(ctx context.Context) (string, error) {
			t, err := ac.token(ctx, false)
			return t.AccessToken, err
		}})
		if err != nil {
			return nil, nil, err
		}
		ac.c = c
	}
	return ac.c, tok.Roles, nil
}

// monitorReader reads with the first authorized monitor's token (not
// cached: the monitor may lose its grant).
func (g *graphClients) monitorReader(ctx context.Context, tenantID uuid.UUID) (graphapi.PresenceReader, error) {
	ms, err := g.a.store.AuthorizedMonitors(ctx, g.a.pool, tenantID)
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, errors.New("engine: no app-only Presence.Read.All grant and no authorized monitor to read presence with")
	}
	m := ms[0].ID
	return graph.New(graph.Options{BaseURL: g.base(), Token: func(ctx context.Context) (string, error) {
		return g.vault.MonitorToken(ctx, tenantID, m)
	}})
}

// runEngine runs the presence engine's pass over every active tenant each
// interval. Several workers may run it: a tenant is worked on by whichever
// takes its lock, and a killed worker's tenants are free at once (the
// lock ends with its connection) for the next pass of another.
func runEngine(ctx context.Context, a *app, base string, interval time.Duration) error {
	runner, err := newEngineRunner(a, base)
	if err != nil {
		return err
	}
	runOnSignal(ctx, nil, interval, func() {
		if err := runner.Cycle(ctx); err != nil && ctx.Err() == nil {
			a.logger.Warn("engine: pass over tenants failed", "err", err)
		}
	})
	return nil
}

// newEngineRunner wires the presence engine as a worker runs it: token
// vault, Graph clients (which also check each tenant's access), subscription
// engine, reconciler and roster upkeep.
func newEngineRunner(a *app, base string) (*engine.Runner, error) {
	id, err := identity.New(identity.Options{LoginURL: a.cfg.LoginBaseURL})
	if err != nil {
		return nil, err
	}
	svc, err := a.onboardingService(base)
	if err != nil {
		return nil, err
	}
	vault := tokens.New(a.store, id, svc.Credentials, nil)
	clients := &graphClients{a: a, vault: vault, creds: svc.Credentials, id: id, apps: map[uuid.UUID]*appClient{}}
	eng := engine.New(a.store, certs.New(a.store, nil), base+"/graph/notifications", base+"/graph/lifecycle", nil)
	rec := engine.NewReconciler(a.store, eng, clients, 650-a.cfg.MonitorHeadroom, a.logger)
	return engine.NewRunner(a.store, rec, vault, engine.RunnerOptions{Logger: a.logger,
		Roster: roster.New(a.store), Directory: clients.Directory, RepairEvery: a.cfg.RepairInterval}), nil
}
