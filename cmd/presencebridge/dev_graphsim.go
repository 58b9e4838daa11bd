package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"syscall"

	"presencebridge/internal/config"
	"presencebridge/internal/graphsim"
)

// The demo's emulated Microsoft cloud. Its generator seed is fixed so the
// tenant, accounts and passwords printed are the same on every run (graphsim
// keeps nothing on disk; the product's database does). It prefers the port
// docker-compose publishes, and takes a free one when that is busy.
const (
	devGraphsimAddr     = "127.0.0.1:9090"
	devGraphsimSeed     = 1
	devGraphsimUsers    = 25
	devGraphsimMonitors = 2
)

// devGraphsim is the graphsim `dev` runs in-process, with its demo tenant.
type devGraphsim struct {
	sim    *graphsim.Sim
	base   string
	seed   graphsim.Seed
	logger *slog.Logger
}

// wantDevGraphsim reports whether dev should run graphsim: not when the
// identity platform or Graph is pointed elsewhere (a real tenant, or a
// graphsim of one's own).
func wantDevGraphsim() bool {
	for _, name := range []string{"PB_LOGIN_BASE_URL", "PB_GRAPH_BASE_URL"} {
		if _, set := os.LookupEnv(name); set {
			return false
		}
	}
	return true
}

// startDevGraphsim starts graphsim until ctx ends, seeded with the demo
// tenant, and points cfg at it. The tenant is not consented yet, so the
// onboarding demo starts from the beginning. An app registration given in
// PB_MS_CLIENT_ID/PB_MS_CLIENT_SECRET is the one graphsim knows.
func startDevGraphsim(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*devGraphsim, error) {
	seed := graphsim.GenerateSeed(1, devGraphsimUsers, devGraphsimMonitors, devGraphsimSeed)
	seed.Tenants[0].Consented = false
	if cfg.ClientID != "" {
		seed.App.ClientID, seed.App.ClientSecret = cfg.ClientID, cfg.ClientSecret.Reveal()
	}
	sim := graphsim.New(graphsim.Options{Logger: logger})
	if err := sim.Apply(seed); err != nil {
		return nil, fmt.Errorf("graphsim: demo directory: %w", err)
	}
	base, err := sim.Start(ctx, devGraphsimAddr)
	if errors.Is(err, syscall.EADDRINUSE) {
		base, err = sim.Start(ctx, "127.0.0.1:0")
	}
	if err != nil {
		return nil, err
	}
	cfg.LoginBaseURL, cfg.GraphBaseURL = base, base
	cfg.ClientID, cfg.ClientSecret = seed.App.ClientID, config.Secret(seed.App.ClientSecret)
	return &devGraphsim{sim: sim, base: base, seed: seed, logger: logger}, nil
}

// allowRedirects registers the product's onboarding callbacks, known once
// it listens, on the app: the identity platform accepts exact URIs only.
func (g *devGraphsim) allowRedirects(product string) {
	app := graphsim.SeedApp{ClientID: g.seed.App.ClientID, RedirectURIs: []string{
		product + "/onboarding/consent/callback",
		product + "/onboarding/monitors/callback",
	}}
	if err := g.sim.Apply(graphsim.Seed{App: app}); err != nil {
		g.logger.Warn("graphsim: the onboarding redirect URIs were not registered; sign-ins will be refused", "err", err)
		return
	}
	g.seed.App.RedirectURIs = append(g.seed.App.RedirectURIs, app.RedirectURIs...)
}

// print lists where graphsim is and the demo's sign-ins, after the
// product's own lines.
func (g *devGraphsim) print(w io.Writer) {
	t := g.seed.Tenants[0]
	fmt.Fprintf(w, "graphsim         %s  (Microsoft Graph and sign-in, emulated)\n", g.base)
	fmt.Fprintf(w, "  control API    %s/_sim/\n", g.base)
	fmt.Fprintf(w, "  demo tenant    %s  (id %s, not consented yet)\n", t.Domain, t.ID)
	fmt.Fprintf(w, "  admin sign-in  %s  %s\n", t.Admin.UPN, t.Admin.Password)
	for _, m := range t.Monitors {
		fmt.Fprintf(w, "  monitor        %s  %s\n", m.UPN, m.Password)
	}
}
