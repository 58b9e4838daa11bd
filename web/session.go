package web

import (
	"cmp"
	"log/slog"
	"net/http"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/seal"
)

// Session lifetimes: a browser session ends after 2 hours without a
// request, and after 12 hours in any case.
const (
	SessionIdleTimeout = 2 * time.Hour
	SessionLifetime    = 12 * time.Hour
)

// Session cookie names. The __Host- prefix makes the browser insist on
// Secure, Path=/ and no Domain, so no sibling host can plant or read the
// cookie; browsers refuse such a cookie over plain http, hence the plain
// name in development on http://127.0.0.1.
const (
	SessionCookieProduction  = "__Host-pb_session"
	SessionCookieDevelopment = "pb_session"
)

// SessionOptions configure NewSessions.
type SessionOptions struct {
	// Production selects the __Host- cookie with Secure.
	Production bool
	// Logger receives session-store failures. Nil discards them.
	Logger *slog.Logger
	// Cookie names the cookie of a surface whose sessions are its own (the
	// console's, "pb_console"), __Host- prefixed in production; empty:
	// the customer-facing pages' shared pb_session. A session under one
	// name grants nothing under another, as each surface reads only its
	// own keys.
	Cookie string
	// IdleTimeout and Lifetime replace SessionIdleTimeout and
	// SessionLifetime when set.
	IdleTimeout, Lifetime time.Duration
	// Ring seals what PutSealed keeps (the deployment's seal keys); nil:
	// PutSealed refuses.
	Ring *seal.Ring
}

// Sessions are the server-side browser sessions of the cookie-authenticated
// surfaces (onboarding, later the dashboard), kept in PostgreSQL's sessions
// table so that any instance serves any request.
type Sessions struct {
	*scs.SessionManager
	ring *seal.Ring
}

// NewSessions returns the session manager. Expired sessions are never
// served (the store reads only unexpired ones); they are deleted from the
// table by the session_sweep job (internal/jobs), one sweep for all
// instances.
func NewSessions(pool *pgxpool.Pool, o SessionOptions) *Sessions {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	// No cleanup goroutine of pgxstore's (interval 0): the job sweeps, and
	// pgxstore's goroutine cannot be stopped without a data race (it
	// assigns its stop channel after starting).
	sm := scs.New()
	sm.Store = pgxstore.NewWithCleanupInterval(pool, 0)
	sm.IdleTimeout = cmp.Or(o.IdleTimeout, SessionIdleTimeout)
	sm.Lifetime = cmp.Or(o.Lifetime, SessionLifetime)
	name := cmp.Or(o.Cookie, SessionCookieDevelopment)
	sm.Cookie.Name, sm.Cookie.Secure = name, false
	if o.Production {
		sm.Cookie.Name, sm.Cookie.Secure = "__Host-"+name, true // SessionCookieProduction for pb_session
	}
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Path = "/"
	sm.Cookie.Domain = ""
	// A browser session, not a remembered login: the cookie goes when the
	// browser closes, and the server-side limits above apply regardless.
	sm.Cookie.Persist = false
	logger := o.Logger
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		logger.LogAttrs(r.Context(), slog.LevelError, "session store", slog.String("path", r.URL.Path), slog.Any("err", err))
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "The service is temporarily unavailable. Try again in a minute.", http.StatusServiceUnavailable)
	}
	return &Sessions{SessionManager: sm, ring: o.Ring}
}
