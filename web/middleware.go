package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"presencebridge/static"
	"presencebridge/templates"
)

// requestID gives every request an id for its log lines and echoes it in
// X-Request-Id, so a user's report can be matched to the logs. An id sent by
// the client or a proxy in front is kept only when short and plain, since it
// lands verbatim in our logs; otherwise chi generates one.
func requestID(next http.Handler) http.Handler {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(middleware.RequestIDHeader, middleware.GetReqID(r.Context()))
		next.ServeHTTP(w, r)
	})
	withID := middleware.RequestID(echo)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get(middleware.RequestIDHeader); id != "" && !plainID(id) {
			r.Header.Del(middleware.RequestIDHeader)
		}
		withID.ServeHTTP(w, r)
	})
}

func plainID(id string) bool {
	if len(id) > 128 {
		return false
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:/+=", c)
		if !ok {
			return false
		}
	}
	return true
}

// quietPaths are probed every few seconds, and static assets come with
// every page: their logs go to Debug.
var quietPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

func quiet(path string) bool { return quietPaths[path] || strings.HasPrefix(path, static.Prefix) }

// observe writes one log line per request and records its metrics. It logs
// the path but never the query string: OAuth callbacks carry codes and state
// there. A request whose handler never returned (the connection was aborted)
// is logged and counted as aborted.
func observe(logger *slog.Logger, m *httpMetrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			completed := false
			defer func() {
				elapsed := time.Since(start)
				status := ww.Status()
				if status == 0 && completed {
					status = http.StatusOK // net/http's answer when a handler writes nothing
				}
				code := fmt.Sprint(status)
				if !completed {
					code = "aborted"
				}
				m.record(r.Method, routePattern(r), code, elapsed)
				level := slog.LevelInfo
				if quiet(r.URL.Path) {
					level = slog.LevelDebug
				}
				attrs := []slog.Attr{
					slog.String("method", r.Method),
					slog.String("path", loggedPath(r)),
					slog.Int("status", status),
					slog.Int("bytes", ww.BytesWritten()),
					slog.Duration("duration", elapsed),
					slog.String("request_id", middleware.GetReqID(r.Context())),
				}
				if !completed {
					attrs = append(attrs, slog.Bool("aborted", true))
				}
				logger.LogAttrs(r.Context(), level, "http request", attrs...)
			}()
			next.ServeHTTP(ww, r)
			completed = true
		})
	}
}

// loggedPath is the path for log lines. A route whose path carries a
// secret (an invitation or Copy URL token) is logged as its pattern, so
// the token never reaches a log.
func loggedPath(r *http.Request) string {
	if p := routePattern(r); strings.Contains(p, "{token}") {
		return p
	}
	return r.URL.Path
}

// routePattern is the chi pattern that matched ("/tenants/{id}"), never the
// raw path, which would give one metric series per id.
func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		return rc.RoutePattern()
	}
	return "unmatched"
}

// recoverPanics turns a handler panic into a logged error (with the stack)
// and a 500, and keeps the server serving. The panic's text never reaches
// the client. If the response had already started, the connection is
// aborted instead, so the client cannot take half a page for a whole one.
func recoverPanics(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v) // net/http's own signal to abort the response quietly
				}
				logger.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
					slog.String("method", r.Method),
					slog.String("path", loggedPath(r)),
					slog.String("request_id", middleware.GetReqID(r.Context())),
					slog.String("panic", fmt.Sprint(v)),
					slog.String("stack", string(debug.Stack())))
				if ww.Status() != 0 {
					panic(http.ErrAbortHandler)
				}
				// Whatever the handler prepared belongs to the response that failed.
				w.Header().Del("Set-Cookie")
				w.Header().Set("Cache-Control", "no-store")
				if strings.HasPrefix(r.URL.Path, "/api/") {
					Problem(w, http.StatusInternalServerError, "Internal Server Error", "")
					return
				}
				http.Error(w, "Internal Server Error", http.StatusInternalServerError)
			}()
			next.ServeHTTP(ww, r)
		})
	}
}

// securityHeaders sets the headers every response carries. The CSP allows
// no inline script or style: pages use only /static assets.
func securityHeaders(production bool) func(http.Handler) http.Handler {
	const csp = "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; " +
		"object-src 'none'; img-src 'self' data:"
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Security-Policy", csp)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			// Callback URLs carry OAuth codes: never leak them to another site.
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
			if production {
				h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
			}
			next.ServeHTTP(w, r)
		})
	}
}

// withVersion lets every page's layout show the build version.
func withVersion(version string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(templates.WithVersion(r.Context(), version)))
		})
	}
}
