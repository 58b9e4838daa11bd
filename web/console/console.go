// Package console is the vendor's support console under /console: staff
// sign in with a local account (internal/staff: password, optional TOTP,
// locked after repeated failures), find a tenant, and see and act on its
// pages — the tenant pages of web/tenantui, which the portal shows its
// admins, here with staff authorization.
//
// Sessions are the console's own (cookie pb_console, shorter timeouts than
// the portal's) in the shared session store, and grant nothing elsewhere:
// the portal reads only its keys, the tenant API only API keys. Every
// state-changing request passes web.CSRF; a role gates each route
// (requireRole, changesNeed); every action is audited as staff:<email>.
package console

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/seal"
	"presencebridge/internal/staff"
	"presencebridge/internal/store"
	"presencebridge/internal/tenancy"
	"presencebridge/internal/tenantview"
	"presencebridge/templates"
	"presencebridge/web"
	"presencebridge/web/tenantui"
)

// Prefix is where the console is mounted.
const Prefix = "/console"

// Console sessions end after 30 minutes without a request and after 8
// hours in any case: shorter than the portal's, as a staff session reaches
// every tenant.
const (
	SessionIdleTimeout = 30 * time.Minute
	SessionLifetime    = 8 * time.Hour
	SessionCookie      = "pb_console"
)

// NewSessions returns the console's sessions (web.NewSessions with the
// console's cookie and timeouts); ring seals what the tenant pages show
// once (a new API key, a signing secret).
func NewSessions(pool *pgxpool.Pool, ring *seal.Ring, production bool, logger *slog.Logger) *web.Sessions {
	return web.NewSessions(pool, web.SessionOptions{Production: production, Logger: logger, Cookie: SessionCookie,
		IdleTimeout: SessionIdleTimeout, Lifetime: SessionLifetime, Ring: ring})
}

// Deps are what the console needs.
type Deps struct {
	Store    *store.Store
	Staff    *staff.Service
	Views    *tenantview.Reader
	Sessions *web.Sessions // NewSessions
	Logger   *slog.Logger
	Now      func() time.Time // replaces time.Now (tests age a sign-in)
	// Limits bound sign-in attempts; zero values take the defaults.
	Limits Limits
	// Tenancy suspends, resumes and deletes tenants; nil: one over Store
	// with the default grace before a deleted tenant is purged.
	Tenancy *tenancy.Service
	// Pages are the services the tenant pages use beyond Store and Views
	// (tenantui.Deps: Onboarding, Monitors, Admins, …); the console fills in
	// who looks and its guards. Monitors.SignIn is best left nil: a
	// monitor's own person signs it in, through its Copy URL.
	Pages tenantui.Deps
	// SSO, when set, offers single sign-on with Microsoft beside the
	// password (sso.go).
	SSO *SSO
}

type handler struct {
	Deps
	csrf   *web.CSRF
	vendor vendorTenant // SSO.Tenant's id, resolved at the first sign-in
}

// Routes returns the console's routes, for r.Route(Prefix, …).
func Routes(d Deps) func(chi.Router) {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	d.Limits = d.Limits.withDefaults()
	if d.Tenancy == nil {
		d.Tenancy = tenancy.New(d.Store, 0, d.Now)
	}
	h := &handler{Deps: d}
	h.csrf = web.NewCSRF(d.Sessions, http.HandlerFunc(h.formRejected))
	return h.routes
}

func (h *handler) routes(r chi.Router) {
	r.Use(pageHeaders, h.Sessions.LoadAndSave, h.csrf.Protect)
	h.signInRoutes(r)
	r.Group(func(r chi.Router) {
		r.Use(h.requireStaff)
		r.Get("/", h.tenants)
		r.Get("/users", h.lookUpUsers)
		r.Get("/account", h.account)
		r.Post("/account/totp/new", h.startEnrollment)
		r.Post("/account/totp", h.enroll)
		h.staffRoutes(r)
		h.tenantRoutes(r)
		r.Route("/invitations", h.invitationRoutes)
		r.Route("/activity", func(r chi.Router) { r.Get("/", h.activity) })
		r.Route("/alerts", func(r chi.Router) { r.Get("/", h.alerts) })
		r.Route("/audit", func(r chi.Router) { r.Get("/", h.auditTrail) })
	})
}

// maxBody bounds a request's body, as the portal's pages do.
const maxBody = 1 << 20

func pageHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		next.ServeHTTP(w, r)
	})
}

// --- the signed-in staff member ------------------------------------------------

// Session keys of a console sign-in.
const (
	sessionStaff    = "console.staff"
	sessionAuthTime = "console.auth_time" // Unix seconds
	sessionPending  = "console.pending"   // a right password waiting for its code
	sessionEnroll   = "console.totp"      // a TOTP secret offered, not yet proved
)

// member is the signed-in account, as read afresh on this request.
type member struct {
	store.Staff
	Role     staff.Role
	AuthTime time.Time
}

type memberKey struct{}

func memberOf(ctx context.Context) member { m, _ := ctx.Value(memberKey{}).(member); return m }

func withMember(ctx context.Context, m member) context.Context {
	return context.WithValue(ctx, memberKey{}, m)
}

// requireStaff lets a signed-in account through, read afresh on every
// request (one primary-key read): a disabled account loses access at
// once, on whichever instance, and a changed role applies at once. Anyone
// else goes to the sign-in page, coming back here after.
func (h *handler) requireStaff(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := uuid.Parse(h.Sessions.GetString(ctx, sessionStaff))
		if err != nil {
			back := ""
			if r.Method == http.MethodGet && r.URL.Path != Prefix+"/" {
				back = r.URL.Path
			}
			h.signInPage(w, r, http.StatusOK, "", back, nil)
			return
		}
		who, err := h.Staff.Current(ctx, id)
		if err == staff.ErrGone {
			if err := h.endSession(ctx); err != nil {
				h.fail(w, r, "end session", err)
				return
			}
			h.signInPage(w, r, http.StatusForbidden, "", "", &templates.Notice{Title: "Your staff account is disabled, so you are signed out."})
			return
		}
		if err != nil {
			h.fail(w, r, "current staff", err)
			return
		}
		role, _ := staff.ParseRole(who.Role)
		m := member{Staff: who, Role: role, AuthTime: time.Unix(h.Sessions.GetInt64(ctx, sessionAuthTime), 0)}
		next.ServeHTTP(w, r.WithContext(withMember(ctx, m)))
	})
}

// requireRole lets through only a signed-in account whose role allows
// what min does; others get 403.
func requireRole(min staff.Role, h *handler) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !memberOf(r.Context()).Role.AtLeast(min) {
				h.forbidden(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// changesNeed lets anyone signed in read (GET, HEAD) and only a role that
// allows what min does change anything: a viewer's forged form is refused
// here, before any handler, whatever the page offers.
func changesNeed(min staff.Role, h *handler) func(http.Handler) http.Handler {
	gate := requireRole(min, h)
	return func(next http.Handler) http.Handler {
		gated := gate(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				next.ServeHTTP(w, r)
				return
			}
			gated.ServeHTTP(w, r)
		})
	}
}

// frame is what every console page shows around its content.
func (h *handler) frame(r *http.Request, section string) templates.ConsoleFrame {
	m := memberOf(r.Context())
	return templates.ConsoleFrame{Section: section, SignedInAs: m.Email, Role: string(m.Role), CSRF: h.csrf.Token(r.Context())}
}

// --- answers ---------------------------------------------------------------------

func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	if err := web.RenderPage(w, r, status, c); err != nil {
		h.fail(w, r, "render page", err)
	}
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.Logger.LogAttrs(r.Context(), slog.LevelError, "console: "+what, slog.String("path", r.URL.Path), slog.Any("err", err))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	templates.ConsoleMessage(h.frame(r, ""), "Something went wrong", templates.Notice{
		Title: "The console could not finish this request.", Detail: "Try again in a minute; the logs have the details."}).Render(r.Context(), w)
}

func (h *handler) forbidden(w http.ResponseWriter, r *http.Request) {
	m := memberOf(r.Context())
	h.render(w, r, http.StatusForbidden, templates.ConsoleMessage(h.frame(r, ""), "Not allowed", templates.Notice{
		Title: "Your role (" + string(m.Role) + ") does not allow this.", Detail: "Ask a console admin if you need it."}))
}

func (h *handler) formRejected(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusForbidden, templates.ConsoleNotice("This form was not accepted", templates.Notice{
		Title: "This form has expired or was sent from another site.", Detail: "Nothing was changed. Go back, reload the page and try again."}))
}
