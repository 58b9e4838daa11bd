// Package tenantui serves one tenant's pages — Home, Monitors, Users,
// Integration, App registration, Audit log — for whichever surface shows
// them: the tenant admins' portal (/portal) today, the vendor's console
// (/console/tenants/{id}) next. The surface signs the person in and
// decides who may see which tenant; it hands tenantui a Viewer per
// request: the tenant, who acts (for the audit log), whether they may
// change anything, and where these pages live. The pages call the same
// services as the tenant API (internal/…); a rule lives there, never in a
// handler here (ARCHITECTURE.md, "Who may do what").
//
// Every state-changing form carries the surface's CSRF token; a handler
// about to reveal a secret or create a key first calls Deps.RequireFresh,
// the surface's demand for a recent sign-in.
package tenantui

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/onboarding"
	"presencebridge/internal/portaladmin"
	"presencebridge/internal/store"
	"presencebridge/internal/tenantview"
	"presencebridge/internal/verify"
	"presencebridge/templates"
	"presencebridge/web"
)

// Viewer is who looks at a tenant's pages, as the surface established it.
type Viewer struct {
	TenantID uuid.UUID
	// Actor names the person in the audit log: "portal:<oid>",
	// "staff:<id>".
	Actor string
	// Name is shown as "Signed in as".
	Name string
	// Base is the path these pages are mounted at ("/portal"); every
	// link and form of the pages starts with it.
	Base string
	// SignOut is the path a sign-out form posts to.
	SignOut string
	// CanChange is false for a viewer who may only look (a console
	// viewer): the pages then offer no action and refuse any with 403.
	CanChange bool
	// Back, when set, is the surface's page above the tenant's own (the
	// console's tenants list), linked from every page as BackLabel.
	Back, BackLabel string
	// More are the surface's own sections of the tenant (the console's
	// Support), after these pages' in the navigation; their paths are
	// under Base.
	More []templates.TenantSection
}

// Deps are what the pages need.
type Deps struct {
	Store *store.Store
	Views *tenantview.Reader
	// Viewer returns the request's viewer; the surface's middleware
	// has already refused anyone who may not see the tenant.
	Viewer func(*http.Request) Viewer
	// CSRFToken is the token the surface's CSRF check expects in forms.
	CSRFToken func(context.Context) string
	// RequireFresh lets a handler go on when the viewer signed in
	// recently enough to reveal a secret or create a key; otherwise it
	// answers (sending them to sign in again) and returns false.
	RequireFresh func(http.ResponseWriter, *http.Request) bool
	Logger       *slog.Logger
	// Flash carries what an action shows once (a new API key, a signing
	// secret, a Copy URL) across the redirect after the POST that made
	// it, sealed: the surface's session. Nil: it is lost on the way.
	Flash Flash
	// AllowLoopbackWebhooks lets webhook URLs name loopback addresses
	// (development and tests), as the tenant API's option of that name.
	AllowLoopbackWebhooks bool
	// Onboarding checks and stores a tenant's own app registration
	// (SetOwnApp: its secret proved with the identity platform first).
	Onboarding *onboarding.Service
	// SecretExpiry reads an own app's secret expiry from Graph; nil: the
	// admin enters it.
	SecretExpiry onboarding.SecretExpiryReader
	// Now replaces time.Now (tests move the clock).
	Now func() time.Time
	// Monitors are the Monitors pages' own needs.
	Monitors MonitorDeps
	// Admins adds and removes the tenant's portal admins (Admins).
	Admins *portaladmin.Service
	// Verify runs Verify configuration's checks; nil: the page says they
	// cannot run here.
	Verify *verify.Verifier
	// LivePresence reads a user's presence from Microsoft Graph now, shown
	// on the user's page beside the stored one; nil: not shown.
	LivePresence func(ctx context.Context, tenantID uuid.UUID, userID string) (graphapi.Presence, error)
}

type handler struct{ Deps }

func newHandler(d Deps) *handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &handler{d}
}

// Routes returns the tenant pages' routes, relative to the viewer's Base.
func Routes(d Deps) func(chi.Router) {
	h := newHandler(d)
	return func(r chi.Router) {
		r.Get("/", h.home)
		r.Route("/app", h.appRoutes)
		r.Route("/admins", h.adminRoutes)
		r.Route("/audit", h.auditRoutes)
		r.Route("/integration", h.integrationRoutes)
		r.Route("/activity", h.activityRoutes)
		r.Route("/users", h.userRoutes)
		r.Route("/monitors", h.monitorRoutes)
		r.Route("/verify", h.verifyRoutes)
	}
}

// frame is what every tenant page shows around its content; it reads the
// tenant for its name.
func (h *handler) frame(r *http.Request, section string) templates.TenantFrame {
	var company string
	if t, err := h.Store.GetTenant(r.Context(), h.Viewer(r).TenantID); err == nil {
		company = t.Name
	}
	return h.frameNamed(r, section, company)
}

// frameNamed is the frame of a page that read the tenant already (Home,
// with its health), so that the tenant is read once a request.
func (h *handler) frameNamed(r *http.Request, section, company string) templates.TenantFrame {
	v := h.Viewer(r)
	return templates.TenantFrame{Base: v.Base, Section: section, SignedInAs: v.Name, SignOut: v.SignOut,
		CSRF: h.CSRFToken(r.Context()), CanChange: v.CanChange, Back: v.Back, BackLabel: v.BackLabel, More: v.More,
		Company: company}
}

func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	if err := web.RenderPage(w, r, status, c); err != nil {
		h.fail(w, r, "render page", err)
	}
}

// fail logs err and answers a page that says the request could not be
// finished, in the viewer's frame.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.Logger.LogAttrs(r.Context(), slog.LevelError, "tenant pages: "+what, slog.String("path", r.URL.Path), slog.Any("err", err))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	templates.TenantMessage(h.frame(r, ""), "Something went wrong", templates.Notice{
		Title:  "Presence Bridge could not finish this request.",
		Detail: "Try again in a minute. If it keeps happening, contact Presence Bridge support."}).Render(r.Context(), w)
}

// readOnly answers 403 to a viewer who may not change anything; it
// returns true when it did.
func (h *handler) readOnly(w http.ResponseWriter, r *http.Request) bool {
	if h.Viewer(r).CanChange {
		return false
	}
	h.render(w, r, http.StatusForbidden, templates.TenantMessage(h.frame(r, ""), "Not allowed", templates.Notice{
		Title: "You may look at this tenant but not change it."}))
	return true
}
