package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// readyTimeout bounds the readiness check: a probe that hangs is as bad as
// one that fails, and orchestrators time out probes after a few seconds.
const readyTimeout = 2 * time.Second

// healthz says the process is up; it touches nothing else, so a database
// outage never gets the process restarted.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte("ok\n"))
}

// readyz runs the readiness check. The full error is logged; the response
// says only that the check failed, since errors from database drivers can
// name hosts, users and databases.
func readyz(ready func(context.Context) error, logger *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			if err := ready(ctx); err != nil {
				logger.LogAttrs(r.Context(), slog.LevelWarn, "not ready", slog.Any("err", err))
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte("not ready: database unavailable or not migrated\n"))
				return
			}
		}
		w.Write([]byte("ready\n"))
	}
}
