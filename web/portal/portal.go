// Package portal is the tenant admins' web app under /portal: sign in
// with Microsoft (only accounts of the tenant's own Microsoft tenant that
// are its portal admins get in), then the tenant's pages, Home first.
// The rules live in internal/…; these handlers parse, call the services
// and render templ pages in the onboarding look.
//
// The session holds the tenant, and no URL names it: a session of one
// tenant cannot ask for another's pages. Every state-changing request
// passes web.CSRF; before a secret is revealed or a key created, a handler
// calls requireFresh (a sign-in at most FreshFor old). Every action is
// audited with actor "portal:<oid>".
package portal

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/identity"
	"presencebridge/internal/store"
	"presencebridge/internal/tenantview"
	"presencebridge/templates"
	"presencebridge/web"
	"presencebridge/web/tenantui"
)

// FreshFor is how recent a sign-in must be before a handler reveals a
// secret or creates a key: identity's rule, which onboarding's summary
// applies too.
const FreshFor = identity.FreshFor

// Deps are what the portal needs.
type Deps struct {
	Identity *identity.Client
	App      identity.App // our multi-tenant registration
	// BaseURL is the product's public URL; the redirect URI
	// BaseURL/portal/callback must be registered on App.
	BaseURL  string
	Store    *store.Store
	Views    *tenantview.Reader
	Sessions *web.Sessions
	// LoginURL is the identity platform the sign-in leads to (for the
	// Content-Security-Policy).
	LoginURL string
	Logger   *slog.Logger
	Now      func() time.Time // replaces time.Now (tests age a sign-in)
	// Pages are the services the tenant's pages use beyond Store and
	// Views (tenantui.Deps: Onboarding, SecretExpiry, …); the portal
	// fills in who looks and its guards.
	Pages tenantui.Deps
	// SignInLimit is the sign-in starts and callbacks one client address
	// may make a minute (web.LimitPerAddress); 0: web.DefaultSignInLimit.
	SignInLimit int
}

type handler struct {
	Deps
	csrf *web.CSRF
	csp  string
}

// Routes returns the /portal routes, for r.Route("/portal", …).
func Routes(d Deps) func(chi.Router) {
	h := newHandler(d)
	return h.routes
}

func newHandler(d Deps) *handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	d.BaseURL = strings.TrimSuffix(d.BaseURL, "/")
	if d.SignInLimit <= 0 {
		d.SignInLimit = web.DefaultSignInLimit
	}
	h := &handler{Deps: d, csp: web.SignInCSP(d.LoginURL)}
	h.csrf = web.NewCSRF(d.Sessions, http.HandlerFunc(h.formRejected))
	return h
}

// routes mounts the pages; r may carry more routes (tests add one). The
// tenant's own pages are web/tenantui's, behind requireAdmin; GET /portal
// is Home once signed in, the sign-in page before (front).
func (h *handler) routes(r chi.Router) {
	r.Use(h.pageHeaders, h.Sessions.LoadAndSave, h.csrf.Protect)
	// The sign-in's start and the identity platform's callback, which
	// anyone may send: one budget per client address.
	signIn := r.With(web.LimitPerAddress(h.SignInLimit, h.tooManySignIns))
	signIn.Get("/signin", h.startSignIn)
	signIn.Get("/callback", h.callback)
	r.Post("/signout", h.signOut)
	d := h.Pages
	d.Store, d.Views, d.Viewer, d.CSRFToken, d.RequireFresh, d.Logger = h.Store, h.Views, viewer, h.csrf.Token, h.requireFresh, h.Logger
	if d.Now == nil {
		d.Now = h.Now
	}
	d.Flash = h.Sessions
	pages := tenantui.Routes(d)
	csvTooLarge := h.requireAdmin(tenantui.UploadTooLarge(d))
	h.csrf.OnTooLarge(func(w http.ResponseWriter, r *http.Request, limit int64) {
		if r.URL.Path == csvUploadPath {
			csvTooLarge.ServeHTTP(w, r)
			return
		}
		web.FormTooLarge(w, r, limit)
	})
	r.Group(func(r chi.Router) {
		r.Use(h.signedInOrSignInPage)
		pages(r)
	})
}

// viewer is the signed-in admin as the tenant pages know them.
func viewer(r *http.Request) tenantui.Viewer {
	a := adminOf(r.Context())
	return tenantui.Viewer{TenantID: a.TenantID, Actor: a.Actor(), Name: a.UPN, Base: "/portal", SignOut: "/portal/signout", CanChange: true}
}

// signedInOrSignInPage lets a signed-in portal admin through to the
// tenant's pages; anyone else gets the sign-in page at /portal and is
// sent there from the others.
func (h *handler) signedInOrSignInPage(next http.Handler) http.Handler {
	admitted := h.requireAdmin(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := h.admin(r.Context()); !ok && (r.URL.Path == "/portal" || r.URL.Path == "/portal/") {
			h.render(w, r, http.StatusOK, templates.PortalSignIn(nil))
			return
		}
		admitted.ServeHTTP(w, r)
	})
}

// maxBody bounds a request's body: ample for every form but one, the
// roster's CSV upload (csvUploadPath), which has its own bound.
const maxBody = 1 << 20

// csvUploadPath is the tenant pages' roster upload, at the portal's Base.
const csvUploadPath = "/portal" + tenantui.CSVUploadPath

// pageHeaders sets every answer's caching and CSP, and bounds the
// request's body before anything reads it.
func (h *handler) pageHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", h.csp)
		limit := int64(maxBody)
		if r.URL.Path == csvUploadPath {
			limit = tenantui.MaxCSVUploadBody
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	if err := web.RenderPage(w, r, status, c); err != nil {
		h.fail(w, r, "render page", err)
	}
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.Logger.LogAttrs(r.Context(), slog.LevelError, "portal: "+what, slog.String("path", r.URL.Path), slog.Any("err", err))
	h.message(w, r, http.StatusInternalServerError, "Something went wrong", templates.Notice{
		Title: "Presence Bridge could not finish this request.", Detail: "Try again in a minute. If it keeps happening, contact Presence Bridge support."})
}

func (h *handler) message(w http.ResponseWriter, r *http.Request, status int, heading string, n templates.Notice) {
	h.render(w, r, status, templates.PortalMessage(heading, n))
}

// tooManySignIns answers a client address past its sign-in limit
// (Retry-After is set).
func (h *handler) tooManySignIns(w http.ResponseWriter, r *http.Request) {
	h.message(w, r, http.StatusTooManyRequests, "Too many sign-in attempts", templates.Notice{
		Title: "Too many sign-in attempts from this address.", Detail: "Wait a minute, then try again."})
}

func (h *handler) formRejected(w http.ResponseWriter, r *http.Request) {
	h.message(w, r, http.StatusForbidden, "This form was not accepted", templates.Notice{
		Title: "This form has expired or was sent from another site.", Detail: "Reload the page and try again."})
}

// --- the signed-in admin -------------------------------------------------------

// Session keys of a portal sign-in (the onboarding pages share the
// session and use unprefixed keys).
const (
	sessionTenant   = "portal.tenant"
	sessionObjectID = "portal.oid"
	sessionUPN      = "portal.upn"
	sessionAuthTime = "portal.auth_time" // Unix seconds
	sessionPending  = "portal.oauth"
)

// Admin is the signed-in portal admin.
type Admin struct {
	TenantID uuid.UUID
	ObjectID uuid.UUID
	UPN      string
	AuthTime time.Time
}

// Actor names the admin in the audit log.
func (a Admin) Actor() string { return "portal:" + a.ObjectID.String() }

func (h *handler) admin(ctx context.Context) (Admin, bool) {
	t, err1 := uuid.Parse(h.Sessions.GetString(ctx, sessionTenant))
	o, err2 := uuid.Parse(h.Sessions.GetString(ctx, sessionObjectID))
	if err1 != nil || err2 != nil {
		return Admin{}, false
	}
	return Admin{TenantID: t, ObjectID: o, UPN: h.Sessions.GetString(ctx, sessionUPN),
		AuthTime: time.Unix(h.Sessions.GetInt64(ctx, sessionAuthTime), 0)}, true
}

type adminKey struct{}

// requireAdmin lets only a signed-in portal admin through, the admin in
// the request's context (adminOf); others go to the sign-in page. The
// account must still be one of the tenant's portal admins, read on every
// request (one primary-key lookup): a removed admin loses access at once,
// on whichever instance, not when the session ends. Their session is
// ended with a page that says why.
func (h *handler) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		a, ok := h.admin(ctx)
		if !ok {
			http.Redirect(w, r, "/portal", http.StatusSeeOther)
			return
		}
		if _, err := h.Store.PortalAdmin(ctx, a.TenantID, a.ObjectID); errors.Is(err, store.ErrNotPortalAdmin) {
			if err := h.endSession(ctx); err != nil {
				h.fail(w, r, "end session", err)
				return
			}
			h.render(w, r, http.StatusForbidden, templates.PortalSignIn(&templates.Notice{
				Title:  a.UPN + " is no longer a portal administrator, so you are signed out.",
				Detail: "An administrator removed the account from this portal. Ask one of its portal administrators to add you again if you still need access."}))
			return
		} else if err != nil {
			h.fail(w, r, "portal admin", err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, adminKey{}, a)))
	})
}

func adminOf(ctx context.Context) Admin { a, _ := ctx.Value(adminKey{}).(Admin); return a }

// fresh reports whether the signed-in admin entered their credentials at
// most FreshFor ago (identity.Fresh).
func (h *handler) fresh(ctx context.Context) bool {
	a, ok := h.admin(ctx)
	return ok && identity.Fresh(a.AuthTime, h.Now())
}

// requireFresh lets a handler go on with a sign-in at most FreshFor old;
// otherwise it sends the admin to sign in again (prompt=login, max_age),
// coming back to this page, and returns false.
func (h *handler) requireFresh(w http.ResponseWriter, r *http.Request) bool {
	if h.fresh(r.Context()) {
		return true
	}
	back := r.URL.Path
	if r.Method != http.MethodGet {
		back = r.Header.Get("Referer")
		if u, err := url.Parse(back); err != nil || u.Host != r.Host {
			back = "/portal"
		} else {
			back = u.Path
		}
	}
	http.Redirect(w, r, "/portal/signin?fresh=1&return="+url.QueryEscape(back), http.StatusSeeOther)
	return false
}
