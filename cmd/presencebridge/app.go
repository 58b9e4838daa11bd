package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/IBM/pgxpoolprometheus"
	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"presencebridge/internal/config"
	"presencebridge/internal/graph"
	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/identity"
	"presencebridge/internal/links"
	"presencebridge/internal/onboarding"
	"presencebridge/internal/pgembed"
	"presencebridge/internal/portaladmin"
	"presencebridge/internal/seal"
	"presencebridge/internal/store"
	"presencebridge/internal/store/schema"
	"presencebridge/internal/tenantview"
	"presencebridge/web"
	webonboarding "presencebridge/web/onboarding"
	webportal "presencebridge/web/portal"
	"presencebridge/web/tenantui"
)

// embeddedDB is the database name used on the embedded server.
const embeddedDB = "presencebridge"

// app holds what every role shares: configuration, logger, database, keys.
type app struct {
	cfg     *config.Config
	logger  *slog.Logger
	pg      *pgembed.Server // nil with PB_DATABASE_URL
	pool    *pgxpool.Pool
	intake  []*pgxpool.Pool // the web role's, for Graph's notifications (intake.go)
	ring    *seal.Ring
	store   *store.Store
	metrics *prometheus.Registry
}

// dbUse says how a command uses the embedded database: a role runs the
// server for as long as it runs; an admin command works briefly and shares
// the server a running role (dev, mostly) holds on the same data folder, as
// a data folder holds one server.
type dbUse int

const (
	ownServer dbUse = iota
	sharedServer
)

// openApp loads the seal keys and opens the database. Close releases it.
func openApp(ctx context.Context, cfg *config.Config, name string, use dbUse) (*app, error) {
	logger := newLogger(cfg).With("role", name)
	ring, err := loadRing(cfg, logger)
	if err != nil {
		return nil, err
	}
	a, err := openDB(ctx, cfg, logger, name, use)
	if err != nil {
		return nil, err
	}
	a.ring = ring
	a.store = store.New(a.pool, a.ring)
	return a, nil
}

// openDB connects to the database, starting the embedded one when no URL is
// configured. Commands that need no keys (migrate) use it alone.
func openDB(ctx context.Context, cfg *config.Config, logger *slog.Logger, name string, use dbUse) (*app, error) {
	a := &app{cfg: cfg, logger: logger}
	var err error
	dsn := cfg.DatabaseURL.Reveal()
	if dsn == "" {
		dir := filepath.Join(cfg.DataDir, "postgres")
		open := pgembed.Start
		if use == sharedServer {
			open = pgembed.Open
		}
		a.pg, err = open(ctx, pgembed.Options{DataDir: dir, Durable: true, Logger: a.logger})
		if err != nil {
			return nil, fmt.Errorf("embedded PostgreSQL (no PB_DATABASE_URL set): %w", err)
		}
		if err := a.pg.EnsureDatabase(ctx, embeddedDB); err != nil {
			a.Close()
			return nil, fmt.Errorf("embedded PostgreSQL: %w", err)
		}
		dsn = a.pg.DSN(embeddedDB)
		a.logger.Info("using the embedded PostgreSQL", "data_dir", a.pg.DataDir())
	}
	a.pool, err = newPool(ctx, dsn, cfg.DBMaxConns, name)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.metrics = prometheus.NewRegistry()
	a.metrics.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		pgxpoolprometheus.NewCollector(a.pool, map[string]string{"db": "main"}),
	)
	return a, nil
}

// Close releases the pools and stops the embedded server, in that order.
func (a *app) Close() {
	for _, p := range a.intake {
		p.Close()
	}
	if a.pool != nil {
		a.pool.Close()
	}
	if a.pg != nil {
		if err := a.pg.Stop(); err != nil {
			a.logger.Warn("embedded PostgreSQL stop", "err", err)
		}
	}
}

// ready is the readiness check: the database answers and is migrated.
func (a *app) ready(ctx context.Context) error {
	if err := a.pool.Ping(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	return schema.CheckAtHead(ctx, a.pool)
}

func newPool(ctx context.Context, dsn string, maxConns int32, name string) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("PB_DATABASE_URL: not a valid PostgreSQL URL")
	}
	// pgxpool's default is max(4, cores): 4 here, too few for web + River.
	pc.MaxConns = maxConns
	pc.MinIdleConns = min(2, maxConns)
	pc.MaxConnLifetime = time.Hour
	pc.MaxConnLifetimeJitter = 5 * time.Minute
	pc.ConnConfig.RuntimeParams["application_name"] = "presencebridge-" + name
	store.ConfigurePool(pc)
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %s: cannot connect: %v", pc.ConnConfig.Host, err)
	}
	return pool, nil
}

func newLogger(cfg *config.Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	format := cfg.LogFormat
	if format == "" {
		format = "json"
		if !cfg.Production() {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

// loadRing reads the seal keys. Outside production, with no key configured,
// a key file is created in PB_DATA_DIR on first run and reused after.
func loadRing(cfg *config.Config, logger *slog.Logger) (*seal.Ring, error) {
	text := cfg.SealKeys.Reveal()
	source := "PB_SEAL_KEYS"
	file := cfg.SealKeysFile
	if text == "" && file == "" && !cfg.Production() {
		file = filepath.Join(cfg.DataDir, "seal.keys")
		// 0711, not 0700: the embedded PostgreSQL, which may run as another
		// user, must pass through to PB_DATA_DIR/postgres. The key file is 0600.
		if err := os.MkdirAll(cfg.DataDir, 0o711); err != nil {
			return nil, fmt.Errorf("PB_DATA_DIR: %w", err)
		}
		created, err := seal.EnsureKeyFile(file)
		if err != nil {
			return nil, fmt.Errorf("development seal key file: %w", err)
		}
		if created {
			logger.Info("created a development seal key file", "path", file)
		}
	}
	if text == "" && file != "" {
		b, err := seal.ReadKeyFile(file)
		if err != nil {
			return nil, fmt.Errorf("PB_SEAL_KEYS_FILE: %w", err)
		}
		text, source = b, "PB_SEAL_KEYS_FILE ("+file+")"
	}
	ring, err := seal.LoadRing(text, cfg.SealActiveKey)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return ring, nil
}

// onboardingService is the onboarding rules over this deployment's app
// registration and identity platform; base is the public URL that
// invitation links, Copy URLs and redirect URIs start with.
func (a *app) onboardingService(base string) (*onboarding.Service, error) {
	id, err := identity.New(identity.Options{LoginURL: a.cfg.LoginBaseURL})
	if err != nil {
		return nil, err
	}
	return onboarding.New(a.store, id, links.New(a.ring, nil), onboarding.Config{
		App:     identity.App{ClientID: a.cfg.ClientID, ClientSecret: a.cfg.ClientSecret.Reveal()},
		BaseURL: base,
		// Development may send events to a receiver on this machine.
		AllowLoopbackWebhooks: !a.cfg.Production(),
	}), nil
}

// onboardingRoutes mounts the customer admin's pages (web role):
// onboarding and the portal, sharing browser sessions in the database.
func (a *app) onboardingRoutes(base string) (func(chi.Router), error) {
	svc, err := a.onboardingService(base)
	if err != nil {
		return nil, err
	}
	sessions := web.NewSessions(a.pool, web.SessionOptions{Production: a.cfg.Production(), Logger: a.logger, Ring: a.ring})
	routes := webonboarding.Routes(webonboarding.Deps{Service: svc, Sessions: sessions, LoginURL: a.cfg.LoginBaseURL, Logger: a.logger,
		OwnApp: func(ctx context.Context, id uuid.UUID) (store.TenantApp, error) {
			return a.store.GetTenantApp(ctx, id)
		},
		SecretExpiry: a.secretExpiry,
		SignInLimit:  a.cfg.SignInRateLimit,
	})
	id, err := identity.New(identity.Options{LoginURL: a.cfg.LoginBaseURL})
	if err != nil {
		return nil, err
	}
	// Portal admins are looked up in the tenant's directory with the engine's app-only clients;
	// Verify configuration checks with them and the monitors' vault.
	clients, vault, err := a.graphClients(base)
	if err != nil {
		return nil, err
	}
	portalRoutes := webportal.Routes(webportal.Deps{Identity: id, App: identity.App{ClientID: a.cfg.ClientID, ClientSecret: a.cfg.ClientSecret.Reveal()},
		BaseURL: base, Store: a.store, Views: tenantview.New(a.store), Sessions: sessions, LoginURL: a.cfg.LoginBaseURL, Logger: a.logger,
		Pages: tenantui.Deps{Onboarding: svc, SecretExpiry: a.secretExpiry, AllowLoopbackWebhooks: !a.cfg.Production(), Monitors: tenantui.MonitorDeps{
			// As the engine fills them (engine.go: NewReconciler).
			PerMonitor: graphapi.MaxPresenceIDs - a.cfg.MonitorHeadroom,
			SignIn:     webonboarding.NewMonitorSignIns(webonboarding.Deps{Service: svc, Sessions: sessions, Logger: a.logger}),
		}, Admins: portaladmin.New(a.store, clients.Directory), Verify: a.verifier(base, svc, clients, vault),
			LivePresence: clients.LivePresence},
		SignInLimit: a.cfg.SignInRateLimit})
	return func(r chi.Router) {
		r.Route("/onboarding", routes)
		r.Route("/portal", portalRoutes)
	}, nil
}

// secretExpiry reads an own app registration's secrets from Graph's
// /applications with that app's token (permitted when it holds
// Application.Read.All or Application.ReadWrite.OwnedBy).
func (a *app) secretExpiry(ctx context.Context, accessToken, clientID string) ([]graphapi.SecretCredential, error) {
	c, err := graph.New(graph.Options{BaseURL: strings.TrimSuffix(a.cfg.GraphBaseURL, "/") + "/v1.0",
		Token: func(context.Context) (string, error) { return accessToken, nil }, Retry: graph.Retry{Off: true}})
	if err != nil {
		return nil, err
	}
	return c.AppSecrets(ctx, clientID)
}
