package main

import (
	"context"
	"strings"
	"time"

	"presencebridge/internal/certs"
	"presencebridge/internal/config"
	"presencebridge/internal/engine"
	"presencebridge/internal/graph"
	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/identity"
	"presencebridge/internal/roster"
	"presencebridge/internal/store"
	"presencebridge/internal/tokens"
)

// newGraphClients wires the engine's Graph clients: SDK-backed clients on
// the configured Graph endpoint, monitors' tokens from vault (nil where
// only app-only clients are asked for), app-only tokens from id, the
// alerts' consent links from consentURL (nil: none).
func newGraphClients(cfg *config.Config, st *store.Store, vault *tokens.Vault, creds tokens.Credentials, id *identity.Client,
	consentURL func(identity.App, string) string) *engine.GraphClients {
	base := strings.TrimSuffix(cfg.GraphBaseURL, "/") + "/v1.0"
	opts := engine.ClientsOptions{Store: st, Credentials: creds, AppTokens: id,
		ClientID: cfg.ClientID, ConsentURL: consentURL,
		NewClient: func(token func(context.Context) (string, error)) (engine.Client, error) {
			c, err := graph.New(graph.Options{BaseURL: base, Token: token})
			if err != nil {
				return nil, err
			}
			return c, nil
		}}
	if vault != nil {
		opts.Monitors = vault
	}
	return engine.NewGraphClients(opts)
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
	clients, vault, err := a.graphClients(base)
	if err != nil {
		return nil, err
	}
	eng := engine.New(a.store, certs.New(a.store, nil), base+"/graph/notifications", base+"/graph/lifecycle", nil)
	rec := engine.NewReconciler(a.store, eng, clients, graphapi.MaxPresenceIDs-a.cfg.MonitorHeadroom, a.logger)
	return engine.NewRunner(a.store, rec, vault, engine.RunnerOptions{Logger: a.logger,
		Roster: roster.New(a.store), Directory: clients.Directory, RepairEvery: a.cfg.RepairInterval}), nil
}

// graphClients wires the tenants' Graph clients and the monitors' token
// vault, as the engine and the presence writes of the API use them.
func (a *app) graphClients(base string) (*engine.GraphClients, *tokens.Vault, error) {
	id, err := identity.New(identity.Options{LoginURL: a.cfg.LoginBaseURL})
	if err != nil {
		return nil, nil, err
	}
	svc, err := a.onboardingService(base)
	if err != nil {
		return nil, nil, err
	}
	vault := tokens.New(a.store, id, svc.Credentials, nil)
	return newGraphClients(a.cfg, a.store, vault, svc.Credentials, id, svc.ReconsentURL), vault, nil
}
