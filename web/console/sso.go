package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/identity"
	"presencebridge/internal/staff"
	"presencebridge/templates"
)

// SSO is single sign-on with Microsoft (OpenID Connect) against the
// vendor's own Entra tenant, beside the password: the person signs in at
// that tenant's authority, the ID token is verified as the portal's are
// (internal/identity) and must be of that tenant (tid), and its UPN must
// be a staff account's address, enabled and not locked. Single sign-on
// makes no account (docs/identity.md#staff-single-sign-on).
type SSO struct {
	Identity *identity.Client
	// App is the registration people sign in to: the vendor's own, or
	// Presence Bridge's; RedirectURI must be one of its redirect URIs.
	App         identity.App
	RedirectURI string // {base}/console/callback
	// Tenant is the vendor's tenant, a verified domain or its id.
	Tenant string
}

// ssoFor is how long a sign-in at Microsoft may take.
const ssoFor = 10 * time.Minute

// sessionSSO holds a sign-in at Microsoft in progress.
const sessionSSO = "console.sso"

// ssoPending is a sign-in at Microsoft in progress, kept only in the
// server-side session.
type ssoPending struct {
	State    string    `json:"s"`
	Verifier string    `json:"v"`
	Nonce    string    `json:"n"`
	Expires  time.Time `json:"e"`
	Return   string    `json:"r"`
}

// vendorTenant resolves SSO.Tenant to the tenant id ID tokens must carry,
// once: a failure is not kept, so the next sign-in tries again.
type vendorTenant struct {
	mu sync.Mutex
	id uuid.UUID
}

func (v *vendorTenant) get(ctx context.Context, sso *SSO) (uuid.UUID, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.id != uuid.Nil {
		return v.id, nil
	}
	id, err := sso.Identity.TenantIDOf(ctx, sso.Tenant)
	if err == nil {
		v.id = id
	}
	return id, err
}

func (h *handler) ssoRoutes(r chi.Router) {
	if h.SSO == nil {
		return
	}
	r.Get("/signin/microsoft", h.startMicrosoft)
	r.With(h.limit(h.Limits.PerIP, ipKey)).Get("/callback", h.microsoftCallback)
}

// microsoftURL is where the sign-in page's "Sign in with Microsoft" leads,
// coming back to back, or "" without single sign-on.
func (h *handler) microsoftURL(r *http.Request, back string) string {
	if h.SSO == nil {
		return ""
	}
	q := url.Values{"return": {back}}
	if r.URL.Query().Get("fresh") == "1" {
		q.Set("fresh", "1")
	}
	return Prefix + "/signin/microsoft?" + q.Encode()
}

// startMicrosoft is GET /console/signin/microsoft: off to the vendor's
// tenant with a fresh state. ?fresh=1 demands credentials entered now
// (prompt=login, max_age), for a page that needs a recent sign-in.
func (h *handler) startMicrosoft(w http.ResponseWriter, r *http.Request) {
	ctx, q := r.Context(), r.URL.Query()
	opts := identity.SignInOptions{Tenant: h.SSO.Tenant}
	if q.Get("fresh") == "1" {
		opts.Fresh, opts.MaxAge = true, FreshFor
		if id, err := uuid.Parse(h.Sessions.GetString(ctx, sessionStaff)); err == nil {
			if who, err := h.Store.GetStaff(ctx, id); err == nil {
				opts.LoginHint = who.Email
			}
		}
	}
	state := rand.Text()
	si := h.SSO.Identity.PersonSignIn(h.SSO.App, h.SSO.RedirectURI, state, opts)
	b, _ := json.Marshal(ssoPending{State: state, Verifier: si.Verifier, Nonce: si.Nonce, Expires: h.Now().Add(ssoFor),
		Return: safeReturn(q.Get("return"))})
	h.Sessions.Put(ctx, sessionSSO, b)
	http.Redirect(w, r, si.URL, http.StatusSeeOther)
}

// microsoftCallback is GET /console/callback: the state must be this
// session's and unexpired (single use) and the ID token verified, of the
// vendor's tenant, naming a staff account that may sign in; then the
// account's session starts as after a password (a new session token).
// Every refusal of the person is the password form's one sentence.
func (h *handler) microsoftCallback(w http.ResponseWriter, r *http.Request) {
	ctx, q := r.Context(), r.URL.Query()
	var p ssoPending
	b := h.Sessions.PopBytes(ctx, sessionSSO)
	if b == nil || json.Unmarshal(b, &p) != nil || q.Get("state") == "" ||
		subtle.ConstantTimeCompare([]byte(p.State), []byte(q.Get("state"))) != 1 || !h.Now().Before(p.Expires) {
		h.signInPage(w, r, http.StatusBadRequest, "", "", &templates.Notice{Title: "This sign-in response was refused.",
			Detail: "It does not belong to a sign-in started in this browser, it was already used, or it took more than 10 minutes. Sign in again."})
		return
	}
	if q.Get("error") != "" {
		h.signInPage(w, r, http.StatusOK, "", p.Return, &templates.Notice{Title: "You did not sign in with Microsoft.", Detail: "Sign in again to continue."})
		return
	}
	refused := func(reason string, attrs ...slog.Attr) {
		h.Logger.LogAttrs(ctx, slog.LevelWarn, "console: single sign-on refused", append(attrs, slog.String("reason", reason), slog.String("ip", clientIP(r)))...)
		h.signInPage(w, r, http.StatusUnauthorized, "", p.Return, notAccepted)
	}
	who, err := h.SSO.Identity.FinishPersonSignIn(ctx, h.SSO.App, h.SSO.RedirectURI, q.Get("code"), identity.SignIn{Verifier: p.Verifier,
		Nonce: p.Nonce, Tenant: h.SSO.Tenant})
	if err != nil && identity.ClassOf(err) == identity.Transient {
		h.Logger.LogAttrs(ctx, slog.LevelWarn, "console: single sign-on not confirmed", slog.Any("err", err))
		h.signInPage(w, r, http.StatusServiceUnavailable, "", p.Return, &templates.Notice{Title: "Microsoft could not confirm your sign-in just now.",
			Detail: "Try again in a minute, or sign in with your password."})
		return
	}
	if err != nil {
		refused("not verified", slog.Any("err", err))
		return
	}
	vendor, err := h.vendor.get(ctx, h.SSO)
	if err != nil {
		h.fail(w, r, "vendor tenant of single sign-on", err)
		return
	}
	if who.TenantID != vendor {
		refused("another tenant", slog.String("tid", who.TenantID.String()), slog.String("upn", who.Username))
		return
	}
	account, err := h.Staff.CheckMicrosoft(ctx, who.Username, clientIP(r))
	if errors.Is(err, staff.ErrNotAccepted) {
		refused("no account may sign in as this user", slog.String("upn", who.Username))
		return
	}
	if err != nil {
		h.fail(w, r, "single sign-on", err)
		return
	}
	h.signedIn(w, r, account.ID, p.Return, who.AuthTime)
}
