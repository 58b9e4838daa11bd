package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/certs"
	"presencebridge/internal/graph"
	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/identity"
	"presencebridge/internal/roster"
	"presencebridge/internal/subscribe"
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

	mu   sync.Mutex
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

type appClient struct {
	c     *graph.Client
	roles []string
	mu    sync.Mutex
	tok   identity.AppToken
}

// appClient is the tenant's app-only client (one per tenant, its token
// cached until 5 minutes before expiry) and the roles its token carries.
func (g *graphClients) appClient(ctx context.Context, tenantID uuid.UUID) (*graph.Client, []string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ac := g.apps[tenantID]; ac != nil {
		ac.mu.Lock()
		defer ac.mu.Unlock()
		return ac.c, ac.roles, nil
	}
	app, msTenant, err := g.creds(ctx, tenantID)
	if err != nil {
		return nil, nil, err
	}
	tok, err := g.id.AppTokenFor(ctx, app, msTenant)
	if err != nil {
		return nil, nil, err
	}
	ac := &appClient{roles: tok.Roles, tok: tok}
	ac.c, err = graph.New(graph.Options{BaseURL: g.base(), Token: func(ctx context.Context) (string, error) {
		ac.mu.Lock()
		defer ac.mu.Unlock()
		if time.Until(ac.tok.Expiry) > 5*time.Minute {
			return ac.tok.AccessToken, nil
		}
		app, msTenant, err := g.creds(ctx, tenantID)
		if err != nil {
			return "", err
		}
		t, err := g.id.AppTokenFor(ctx, app, msTenant)
		if err != nil {
			return "", err
		}
		ac.tok, ac.roles = t, t.Roles
		return t.AccessToken, nil
	}})
	if err != nil {
		return nil, nil, err
	}
	g.apps[tenantID] = ac
	return ac.c, ac.roles, nil
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
	id, err := identity.New(identity.Options{LoginURL: a.cfg.LoginBaseURL})
	if err != nil {
		return err
	}
	svc, err := a.onboardingService(base)
	if err != nil {
		return err
	}
	vault := tokens.New(a.store, id, svc.Credentials, nil)
	clients := &graphClients{a: a, vault: vault, creds: svc.Credentials, id: id, apps: map[uuid.UUID]*appClient{}}
	eng := subscribe.New(a.store, certs.New(a.store, nil), base+"/graph/notifications", base+"/graph/lifecycle", nil)
	rec := subscribe.NewReconciler(a.store, eng, clients, 650-a.cfg.MonitorHeadroom, a.logger)
	runner := subscribe.NewRunner(a.store, rec, vault, subscribe.RunnerOptions{Logger: a.logger,
		Roster: roster.New(a.store), Directory: clients.Directory, RepairEvery: a.cfg.RepairInterval})
	runOnSignal(ctx, nil, interval, func() {
		if err := runner.Cycle(ctx); err != nil && ctx.Err() == nil {
			a.logger.Warn("engine: pass over tenants failed", "err", err)
		}
	})
	return nil
}
