package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"presencebridge/internal/config"
	"presencebridge/internal/graphsim"
	"presencebridge/web/console"
)

// The demo's emulated Microsoft cloud: two tenants, the first for the
// demo tenant dev onboards, the second for the invitation it prints. Its
// generator seed is fixed so the tenants, accounts and passwords are the
// same on every run, and its state is kept in PB_DATA_DIR/graphsim.json,
// so consents, monitors' refresh tokens, presence and subscriptions
// outlive a restart as the product's database does. It prefers the port
// docker-compose publishes, and takes a free one when that is busy.
const (
	devGraphsimAddr     = "127.0.0.1:9090"
	devGraphsimSeed     = 1
	devGraphsimTenants  = 2
	devGraphsimUsers    = 25
	devGraphsimMonitors = 2
	devGraphsimFile     = "graphsim.json"
)

// devGraphsim is the graphsim `dev` runs in-process, with its demo tenants.
type devGraphsim struct {
	sim    *graphsim.Sim
	base   string
	seed   graphsim.Seed
	file   string
	logger *slog.Logger
	// restored: the state came from the file, not from the seed alone.
	restored bool
	stop     func() // ends graphsim after saving its state a last time
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

// startDevGraphsim starts graphsim, restored from PB_DATA_DIR/graphsim.json
// or else seeded with the demo tenants (not consented: dev's demo consents
// the first, the second is the invitation's), and points cfg at it. It
// runs until stop, which saves its state a last time; it is not tied to
// a context, as the product's draining workers may still call it. An app
// registration given in PB_MS_CLIENT_ID/PB_MS_CLIENT_SECRET is the one
// graphsim knows.
func startDevGraphsim(cfg *config.Config, logger *slog.Logger) (*devGraphsim, error) {
	seed := graphsim.GenerateSeed(devGraphsimTenants, devGraphsimUsers, devGraphsimMonitors, devGraphsimSeed)
	for i := range seed.Tenants {
		seed.Tenants[i].Consented = false
	}
	if cfg.ClientID != "" {
		seed.App.ClientID, seed.App.ClientSecret = cfg.ClientID, cfg.ClientSecret.Reveal()
	}
	g := &devGraphsim{sim: graphsim.New(graphsim.Options{Logger: logger}), seed: seed, logger: logger,
		file: filepath.Join(cfg.DataDir, devGraphsimFile)}
	if err := os.MkdirAll(cfg.DataDir, 0o711); err != nil {
		return nil, fmt.Errorf("PB_DATA_DIR: %w", err)
	}
	var err error
	if g.restored, err = g.sim.Load(g.file); err != nil {
		return nil, fmt.Errorf("graphsim: %w", err)
	}
	if err := g.sim.ApplyMissing(g.seed); err != nil {
		return nil, fmt.Errorf("graphsim: demo directory: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.base, err = g.sim.Start(ctx, devGraphsimAddr)
	if errors.Is(err, syscall.EADDRINUSE) {
		g.base, err = g.sim.Start(ctx, "127.0.0.1:0")
	}
	if err != nil {
		cancel()
		return nil, err
	}
	saved := make(chan struct{})
	go func() {
		defer close(saved)
		if err := g.sim.Persist(ctx, g.file, time.Second); err != nil {
			logger.Error("graphsim: its state was not saved; the next run starts afresh from the seed", "path", g.file, "err", err)
		}
	}()
	g.stop = func() { cancel(); <-saved }
	cfg.LoginBaseURL, cfg.GraphBaseURL = g.base, g.base
	cfg.ClientID, cfg.ClientSecret = seed.App.ClientID, config.Secret(seed.App.ClientSecret)
	return g, nil
}

// allowRedirects registers the product's sign-in callbacks, known once
// it listens, on the app: the identity platform accepts exact URIs only.
// consoleBase is where the console is served (the admin listener's URL
// with PB_ADMIN_ADDR, else product).
func (g *devGraphsim) allowRedirects(product, consoleBase string) {
	app := graphsim.SeedApp{ClientID: g.seed.App.ClientID, RedirectURIs: []string{
		product + "/onboarding/consent/callback",
		product + "/onboarding/monitors/callback",
		product + "/onboarding/signin/callback",
		product + "/portal/callback",
		consoleBase + console.Prefix + "/callback", // staff single sign-on, when PB_STAFF_OIDC_TENANT names a graphsim tenant
	}}
	if err := g.sim.Apply(graphsim.Seed{App: app}); err != nil {
		g.logger.Warn("graphsim: the sign-in redirect URIs were not registered; sign-ins will be refused", "err", err)
	}
}

// print says where graphsim is, after the product's own lines.
func (g *devGraphsim) print(w io.Writer) {
	fmt.Fprintf(w, "graphsim         %s  (Microsoft 365 emulated; its state is kept in %s)\n", g.base, g.file)
	fmt.Fprintf(w, "  control API    %s/_sim/  (lists every route and body)\n", g.base)
}
