// Package web is Presence Bridge's HTTP shell: the router, the middleware
// every surface shares (request ids and logs, panic recovery, security
// headers, metrics), health and readiness probes, static assets, the home
// and 404 pages, and graceful serving. The product's surfaces (onboarding,
// dashboard, API, Graph intake) are packages beneath it that mount their
// routes here through Deps.Mount.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"presencebridge/static"
	"presencebridge/templates"
)

// Deps are the collaborators the shell needs, passed in by the caller.
type Deps struct {
	// Logger receives one line per request, panics and probe failures.
	// Nil discards them.
	Logger *slog.Logger
	// Ready reports whether the process can serve: the database answers and
	// is migrated. /readyz calls it with a 2 s deadline and answers 503 with
	// a short fixed reason when it fails. Nil means always ready.
	Ready func(ctx context.Context) error
	// Metrics is the registry /metrics exposes; the HTTP request metrics are
	// registered on it. Nil gets a fresh, private registry.
	Metrics *prometheus.Registry
	// Production turns on HSTS (development on http://localhost must never
	// teach a browser to insist on https for localhost) and keeps /metrics
	// off the public listener.
	Production bool
	// Version is shown in the page footer.
	Version string
	// Mount adds the surfaces' routes to the root router, after the shared
	// middleware and the shell's own routes, for example
	//
	//	Mount: func(r chi.Router) {
	//		r.Mount("/onboarding", onboarding.Routes(...))
	//		r.Mount("/api/v1", api.Routes(...))
	//	}
	//
	// A surface that needs its own middleware (sessions, CSRF protection)
	// adds it on its own sub-router or r.Group: calling r.Use here would
	// panic, as chi forbids middleware after routes. Nil mounts nothing.
	Mount func(r chi.Router)
	// AdminPrefixes, when set, are the paths (such as "/console") that,
	// with /metrics, are served only to requests through the admin
	// listener (AdminListener), which serves nothing else but the probes
	// and static assets; anything else is 404 on the wrong listener (see
	// admin.go). Nil: one listener serves everything — but /metrics in
	// production, which is then not served at all.
	AdminPrefixes []string
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
	// Order matters: observe sits outside recoverPanics so that a panic is
	// logged and counted as the 500 it became.
	r.Use(requestID, observe(d.Logger, newHTTPMetrics(d.Metrics)), recoverPanics(d.Logger),
		securityHeaders(d.Production), withVersion(d.Version), storableURL(d.Logger))
	notFound := func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") || !acceptsHTML(r) {
			Problem(w, http.StatusNotFound, "Not Found", "")
			return
		}
		render(w, r, http.StatusNotFound, templates.NotFound(), d.Logger)
	}
	if d.AdminPrefixes != nil {
		r.Use(separateAdmin(d.AdminPrefixes, notFound))
	}

	r.Get("/healthz", healthz)
	r.Get("/readyz", readyz(d.Ready, d.Logger))
	// /metrics tells whoever reads it the tenants' activity, the load and
	// the failures: production serves it only on the admin listener.
	if d.AdminPrefixes != nil || !d.Production {
		r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(d.Metrics, promhttp.HandlerOpts{
			Registry: d.Metrics,
			ErrorLog: slog.NewLogLogger(d.Logger.Handler(), slog.LevelError),
		}))
	} else {
		d.Logger.Warn("/metrics is not served: production serves it only on an address of its own; set PB_ADMIN_ADDR " +
			"(such as 127.0.0.1:9091, kept off the internet) to read it there")
	}
	if d.AdminPrefixes != nil {
		mountProfiler(r)
	}
	r.Method(http.MethodGet, static.Prefix+"*", static.Handler())
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		render(w, r, http.StatusOK, templates.Home(), d.Logger)
	})
	// Set before Mount: chi hands the root's NotFound to mounted sub-routers.
	r.NotFound(notFound)
	if d.Mount != nil {
		d.Mount(r)
	}
	return r
}
