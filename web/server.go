// Package web is Presence Bridge's HTTP shell: the router, the middleware
// every surface shares (request logs, panic recovery, security headers,
// metrics), health and readiness probes, static assets, and graceful
// serving. The product's surfaces (onboarding, dashboard, API, Graph intake)
// are packages beneath it that mount their routes here.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"presencebridge/static"
	"presencebridge/templates"
)

// Deps are the collaborators the shell needs, passed in by the caller.
type Deps struct {
	Logger *slog.Logger
	// Ready reports whether the process can serve: the database answers and
	// is migrated. /readyz answers 503 with a short reason when it fails.
	Ready func(ctx context.Context) error
	// Metrics is the registry /metrics exposes; HTTP metrics are added to it.
	Metrics *prometheus.Registry
	// Production turns on HSTS (browsers ignore it on plain http anyway,
	// but development on http://localhost should never pin https).
	Production bool
	Version    string
	// Mount adds a surface's routes to the router (nil: none).
	Mount func(r chi.Router)
}

// New returns the product's HTTP handler.
func New(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Metrics == nil {
		d.Metrics = prometheus.NewRegistry()
	}
	r := chi.NewRouter()
	r.Use(middleware.RequestID, logRequests(d.Logger), recoverPanics(d.Logger),
		securityHeaders(d.Production), newHTTPMetrics(d.Metrics).middleware)

	page := templates.Page{Version: d.Version}
	r.Get("/healthz", healthz)
	r.Get("/readyz", readyz(d.Ready, d.Logger))
	r.Handle("/metrics", promhttp.HandlerFor(d.Metrics, promhttp.HandlerOpts{Registry: d.Metrics}))
	r.Handle(static.Prefix+"*", static.Handler())
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		p := page
		p.Title = "Welcome"
		render(w, r, http.StatusOK, templates.Home(p), d.Logger)
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") || !acceptsHTML(r) {
			problem(w, http.StatusNotFound, "Not Found", "")
			return
		}
		p := page
		p.Title = "Not found"
		render(w, r, http.StatusNotFound, templates.NotFound(p), d.Logger)
	})
	if d.Mount != nil {
		d.Mount(r)
	}
	return r
}

// Serve runs h on ln until ctx is done, then shuts down gracefully: no new
// connections, requests in flight get up to 20 s. It returns nil after a
// clean shutdown.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// No WriteTimeout: the SSE stream holds responses open for hours;
		// handlers that need a deadline set one with http.ResponseController.
		IdleTimeout: 120 * time.Second,
		ErrorLog:    slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	return err
}
