// Package onboarding is the customer admin's web app under /onboarding:
// from the invitation link, through the form, admin consent and the
// presence monitors' sign-ins, to completion and the summary page. The
// rules live in internal/onboarding; these handlers parse, call the
// service and render the templ pages, which work without JavaScript.
//
// Every state-changing request passes the cross-origin check and the
// session's synchronizer token (web.CSRF). OAuth state is random, bound to
// the browser session, single use and expires after 10 minutes. No token,
// code, secret or password is ever written to a URL we make, a page or a
// log line. A POST answers 303 See Other, so a reload sends nothing again;
// what it made to be shown once (a Copy URL, a signing secret, an API key)
// rides in the session to the next page view only. After completion,
// revealing a secret or creating a key needs a sign-in at most
// identity.FreshFor old, as in the portal.
package onboarding

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/onboarding"
	"presencebridge/internal/store"
	"presencebridge/templates"
	"presencebridge/web"
)

// maxBody bounds a request body: the CSV upload may be 20 MB
// (onboarding.UsersFromCSV), plus the rest of the form.
const maxBody = 21 << 20

// Deps are what the onboarding pages need.
type Deps struct {
	Service  *onboarding.Service
	Sessions *web.Sessions
	// LoginURL is the identity platform the consent and sign-in buttons
	// lead to; the pages' Content-Security-Policy lets forms redirect there.
	LoginURL string
	// Logger receives failures, with ids only. Nil discards them.
	Logger *slog.Logger
	// Now replaces time.Now (tests expire OAuth states with it).
	Now func() time.Time
	// OwnApp reads the tenant's own app registration (store.GetTenantApp;
	// store.ErrNoTenantApp while it uses ours), so step 1 and the summary
	// can name the app and its secret's expiry. The onboarding service's
	// Status does not carry it. Nil: the pages cannot name it, though the
	// app is used all the same.
	OwnApp func(ctx context.Context, tenantID uuid.UUID) (store.TenantApp, error)
	// SecretExpiry reads an own app's secret expiry from Graph when the app
	// may (internal/graph); nil: the admin enters it.
	SecretExpiry onboarding.SecretExpiryReader
	// SignInLimit is the sign-in starts and callbacks one client address
	// may make a minute (web.LimitPerAddress); 0: web.DefaultSignInLimit.
	SignInLimit int
}

type handler struct {
	svc      *onboarding.Service
	sessions *web.Sessions
	csrf     *web.CSRF
	csp      string
	logger   *slog.Logger
	now      func() time.Time
	ownApp   func(ctx context.Context, tenantID uuid.UUID) (store.TenantApp, error)
	expiry   onboarding.SecretExpiryReader
}

// Routes returns the /onboarding routes, for r.Route("/onboarding", …).
func Routes(d Deps) func(chi.Router) {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	h := &handler{svc: d.Service, sessions: d.Sessions, logger: d.Logger, now: d.Now, ownApp: d.OwnApp,
		expiry: d.SecretExpiry, csp: web.SignInCSP(d.LoginURL)}
	h.csrf = web.NewCSRF(d.Sessions, http.HandlerFunc(h.formRejected))
	if d.SignInLimit <= 0 {
		d.SignInLimit = web.DefaultSignInLimit
	}
	return func(r chi.Router) {
		r.Use(h.pageHeaders, limitBody, d.Sessions.LoadAndSave, h.csrf.Protect)
		// Sign-ins started here and the identity platform's callbacks,
		// which anyone may send: one budget per client address.
		signIn := r.With(web.LimitPerAddress(d.SignInLimit, h.tooManySignIns))

		r.Get("/i/{token}", h.openInvite)
		signIn.Post("/signin", h.startSignIn)
		signIn.Get("/signin/callback", h.signInCallback)
		signIn.Post("/signin/again", h.signInAgain)
		r.Get("/", h.showOnboarding)
		r.Post("/form", h.saveForm)
		signIn.Post("/consent", h.startConsent)
		r.Post("/own-app", h.setOwnApp)
		signIn.Get("/consent/callback", h.consentCallback)
		r.Post("/monitors", h.addMonitor)
		signIn.Get("/monitors/callback", h.monitorCallback)
		signIn.Post("/monitors/{id}/authorize", h.authorizeMonitor)
		r.Post("/monitors/{id}/link", h.monitorLink)
		signIn.Post("/monitors/{id}/password", h.passwordSignIn)
		r.Post("/monitors/{id}/retry", h.retryMonitor)
		r.Post("/monitors/{id}/delete", h.deleteMonitor)
		r.Get("/m/{token}", h.openMonitorLink)
		signIn.Post("/m/start", h.startLinkSignIn)
		r.Get("/m/signin", h.showLinkSignIn)
		r.Get("/m/done", h.showLinkDone)
		r.Post("/complete", h.complete)
		r.Post("/integrations/reveal", h.revealSigningSecret)
		r.Post("/api-keys", h.createAPIKey)
	}
}

// pageHeaders: onboarding pages hold personal data and one-time links, so
// no cache keeps them.
func (h *handler) pageHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", h.csp)
		next.ServeHTTP(w, r)
	})
}

func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		next.ServeHTTP(w, r)
	})
}

// hideToken replaces the link token in the request's path, so nothing that
// reads the path later (a panic report, a redirect) sees the secret. The
// shell's request logger logs {token} routes by their pattern anyway.
func hideToken(r *http.Request, prefix string) {
	r.URL.Path = prefix + "…"
	r.URL.RawPath = ""
}

// render writes a page with a status, rendering into a buffer first so a
// failing template yields a clean 500 rather than half a page.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	if err := web.RenderPage(w, r, status, c); err != nil {
		h.fail(w, r, "render page", err)
	}
}

// fail logs an unexpected error and answers 500 without its text.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.logger.LogAttrs(r.Context(), slog.LevelError, "onboarding: "+what,
		slog.String("path", r.URL.Path), slog.Any("err", err))
	h.message(w, r, http.StatusInternalServerError, "Something went wrong", templates.Notice{
		Title: "Presence Bridge could not finish this request.", Detail: "Nothing was lost; try again in a minute. If it keeps happening, contact Presence Bridge support."})
}

func (h *handler) message(w http.ResponseWriter, r *http.Request, status int, heading string, n templates.Notice) {
	h.render(w, r, status, templates.OnboardingMessage(heading, n))
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

// --- the session's tenant ----------------------------------------------------

const sessionTenant = "tenant"

// tenant is the tenant whose invitation this browser opened.
func (h *handler) tenant(ctx context.Context) (uuid.UUID, bool) {
	id, err := uuid.Parse(h.sessions.GetString(ctx, sessionTenant))
	return id, err == nil
}

// requireTenant answers for a browser that has not opened an invitation.
func (h *handler) requireTenant(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	id, ok := h.tenant(r.Context())
	if !ok {
		h.message(w, r, http.StatusForbidden, "Open your invitation link", templates.Notice{
			Title: "This browser has no onboarding in progress.",
			Detail: "Open the invitation link you received from Presence Bridge (it also brings you back later). " +
				"Sessions end after 2 hours without activity."})
	}
	return id, ok
}

// actor names the admin in the audit log: the account that signed in
// with the invitation, else the e-mail from the form once saved, else
// "invitee".
func (h *handler) actor(ctx context.Context, tenantID uuid.UUID) string {
	if upn := h.sessions.GetString(ctx, sessionSigner); upn != "" {
		return "admin:" + upn
	}
	st, err := h.svc.Status(ctx, tenantID)
	if err != nil || st.Tenant.AdminEmail == "" {
		return "admin:invitee"
	}
	return "admin:" + st.Tenant.AdminEmail
}

// problem reports whether err is a Problem to show, and returns it as a
// notice.
func problem(err error) (*templates.Notice, bool) {
	var p *onboarding.Problem
	if errors.As(err, &p) {
		return &templates.Notice{Title: p.Title, Detail: p.Detail}, true
	}
	return nil, false
}

// done is a notice confirming a step.
func done(title, detail string) templates.Notice {
	return templates.Notice{Title: title, Detail: detail, OK: true}
}

func (h *handler) monitorNotFound(w http.ResponseWriter, r *http.Request) {
	h.message(w, r, http.StatusNotFound, "Monitor not found", templates.Notice{
		Title: "This monitor is not part of your onboarding.", Detail: "It may have been deleted. Go back to the onboarding page and reload it."})
}

// redirect answers a POST with 303 See Other, so a reload does not send
// the form again.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func trimmed(r *http.Request, name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
