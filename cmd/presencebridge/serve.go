package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"presencebridge/internal/alertmail"
	"presencebridge/internal/config"
	"presencebridge/internal/jobs"
	"presencebridge/internal/store/schema"
	"presencebridge/internal/writeback"
	"presencebridge/web"
	"presencebridge/web/api"
)

// role says which parts run in a process. Every role serves /healthz and
// /readyz on PB_HTTP_ADDR so that orchestrators can probe it, and /metrics
// on PB_ADMIN_ADDR (in development on PB_HTTP_ADDR too: web.Deps).
type role struct {
	name        string
	web, worker bool
}

var roles = map[string]role{
	"serve":  {name: "serve", web: true, worker: true},
	"web":    {name: "web", web: true},
	"worker": {name: "worker", worker: true},
}

func roleCmd(use, short string, r role, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Long:  short + ".\n\nMigrations are applied at start (safe when several instances start at once)." + envHelp(),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRole(cmd.Context(), r, stdout)
		},
	}
}

func runRole(ctx context.Context, r role, stdout io.Writer) error {
	cfg, err := config.FromOS(false)
	if err != nil {
		return err
	}
	return start(ctx, cfg, r, func(baseURL string) {})
}

// start runs role r until ctx is cancelled (SIGINT/SIGTERM) or a part of it
// fails, then shuts down within PB_SHUTDOWN_TIMEOUT in the order
// shutdown.go gives. onListening is called with the base URL once the
// server accepts requests.
func start(ctx context.Context, cfg *config.Config, r role, onListening func(baseURL string)) error {
	// Listen first: a port in use is the most common start failure and must
	// be reported before anything else is touched.
	ln, err := listenAll(cfg)
	if err != nil {
		return err
	}
	defer ln.Close()
	a, err := openApp(ctx, cfg, r.name, ownServer)
	if err != nil {
		return err
	}
	abandoned := false
	defer func() {
		if abandoned {
			a.abandon()
		} else {
			a.Close()
		}
	}()
	if err := schema.Up(ctx, a.pool, a.logger); err != nil {
		return err
	}
	base := baseURL(cfg, ln)
	// Presence written into Teams: by the API at once, or by a job when
	// Graph throttled it.
	clients, _, err := a.graphClients(base)
	if err != nil {
		return err
	}
	writer := writeback.New(writeback.Options{Clients: clients, Echoes: a.store, Logger: a.logger})
	var alerts jobs.AlertMailer
	if r.worker {
		m, err := a.mailer()
		if err != nil {
			return err
		}
		if m != nil {
			alerts = alertmail.New(a.store, alertmail.Options{Mailer: m, BaseURL: base, Logger: a.logger})
		}
	}
	client, err := jobs.NewClient(a.store, jobs.Options{Logger: a.logger, Work: r.worker, Retention: cfg.EventRetention, Writer: writer,
		Alerts: alerts})
	if err != nil {
		return err
	}

	// What requests need lives on past the signal until the server has
	// drained (shutdown.go): the intake committer answers the POSTs in
	// flight. A part that fails ends it at once, and starts the shutdown.
	run, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	g, gctx := errgroup.WithContext(run)
	svc, err := a.onboardingService(base)
	if err != nil {
		return err
	}
	pipeline, err := startPipeline(gctx, g, a, r, api.Resources{
		Links: svc,
		Grants: func(ctx context.Context, tenantID uuid.UUID) ([]string, error) {
			w, err := clients.Writer(ctx, tenantID)
			return w.Roles, err
		},
		Writes: api.Writes{Writer: writer,
			Enqueue: func(ctx context.Context, args jobs.PresenceWriteArgs, at time.Time) error {
				_, err := client.Insert(ctx, args, &river.InsertOpts{ScheduledAt: at})
				return err
			}},
	})
	if err != nil {
		return err
	}
	if r.worker && cfg.ClientID != "" {
		// The presence engine: subscriptions per monitor, renewed and repaired.
		g.Go(func() error { return runEngine(gctx, a, base, cfg.EngineInterval) })
	}
	mountOnboarding, mountMail, mountConsole := func(chi.Router) {}, func(chi.Router) {}, func(chi.Router) {}
	if r.web {
		if mountOnboarding, err = a.onboardingRoutes(base); err != nil {
			return err
		}
		if mountConsole, err = a.consoleRoutes(base); err != nil {
			return err
		}
		if capturesMail(a) {
			mountMail = devMailRoutes(a.store)
		}
	}
	handler := web.New(web.Deps{
		Logger:     a.logger,
		Ready:      a.ready,
		Metrics:    a.metrics,
		Production: cfg.Production(),
		Version:    version(),
		Mount: func(rt chi.Router) {
			pipeline.mount(rt)
			mountOnboarding(rt)
			mountMail(rt)
			mountConsole(rt)
		},
		AdminPrefixes: adminPrefixes(cfg),
	})
	down := shutdown{timeout: cfg.ShutdownTimeout, stopRun: stopRun, parts: g}
	if r.worker {
		// Not on ctx: cancelling River's start context cancels its jobs at
		// once; the shutdown lets them finish first.
		if err := client.Start(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("start workers: %w", err)
		}
		down.jobs = client
	}
	down.server = web.NewServer(ln, handler, a.logger)
	g.Go(down.server.Serve)
	a.logger.Info("presencebridge started", "url", base, "version", version()) // the logger names the role
	onListening(base)
	select {
	case <-ctx.Done():
	case <-gctx.Done():
	}
	inTime, err := down.run()
	abandoned = !inTime
	if inTime {
		a.logger.Info("presencebridge stopped")
	}
	return err
}

func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("PB_HTTP_ADDR: %s is already in use (another presencebridge running?): stop it or choose another port", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("PB_HTTP_ADDR: cannot listen on %s: %v", addr, err)
	}
	return ln, nil
}

// baseURL is PB_BASE_URL, or in development the address actually bound.
func baseURL(cfg *config.Config, ln net.Listener) string {
	if cfg.BaseURL != "" {
		return cfg.BaseURL
	}
	port := ln.Addr().(*net.TCPAddr).Port
	return fmt.Sprintf("http://localhost:%d", port)
}
