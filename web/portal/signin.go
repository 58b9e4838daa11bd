package portal

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/identity"
	"presencebridge/internal/store"
	"presencebridge/templates"
)

// stateTTL is how long a sign-in at Microsoft may take.
const stateTTL = 10 * time.Minute

// pending is a sign-in in progress, kept only in the server-side session.
type pending struct {
	State    string    `json:"s"`
	Verifier string    `json:"v"`
	Nonce    string    `json:"n"`
	Expires  time.Time `json:"e"`
	Return   string    `json:"r"`
}

func (h *handler) redirectURI() string { return h.BaseURL + "/portal/callback" }

// startSignIn is GET /portal/signin: off to Microsoft with a fresh state.
// ?fresh=1 demands credentials entered now (prompt=login, max_age), for a
// handler that needs a recent sign-in; ?return= is the page to come back
// to (a path of the portal only).
func (h *handler) startSignIn(w http.ResponseWriter, r *http.Request) {
	back := r.URL.Query().Get("return")
	if !strings.HasPrefix(back, "/portal") || strings.HasPrefix(back, "//") || strings.Contains(back, "\\") {
		back = "/portal"
	}
	opts := identity.SignInOptions{}
	if r.URL.Query().Get("fresh") == "1" {
		opts = identity.SignInOptions{Fresh: true, MaxAge: FreshFor}
		if a, ok := h.admin(r.Context()); ok {
			opts.LoginHint = a.UPN
		}
	}
	state := rand.Text()
	si := h.Identity.PersonSignIn(h.App, h.redirectURI(), state, opts)
	b, _ := json.Marshal(pending{State: state, Verifier: si.Verifier, Nonce: si.Nonce, Expires: h.Now().Add(stateTTL), Return: back})
	h.Sessions.Put(r.Context(), sessionPending, b)
	http.Redirect(w, r, si.URL, http.StatusSeeOther)
}

// callback is GET /portal/callback: the state must be this session's and
// unexpired (single use), the ID token verified; then the account must be
// a portal admin of the tenant connected to its Microsoft tenant. The
// session token is renewed when it starts granting a tenant.
func (h *handler) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	var p pending
	b := h.Sessions.PopBytes(ctx, sessionPending)
	if b == nil || json.Unmarshal(b, &p) != nil || q.Get("state") == "" ||
		subtle.ConstantTimeCompare([]byte(p.State), []byte(q.Get("state"))) != 1 || !h.Now().Before(p.Expires) {
		h.message(w, r, http.StatusBadRequest, "Sign-in not accepted", templates.Notice{Title: "This sign-in response was refused.",
			Detail: "It does not belong to a sign-in started in this browser, it was already used, or it took more than 10 minutes. Sign in again."})
		return
	}
	if q.Get("error") != "" {
		h.render(w, r, http.StatusOK, templates.PortalSignIn(&templates.Notice{Title: "You did not sign in.", Detail: "Sign in again to continue."}))
		return
	}
	who, err := h.Identity.FinishPersonSignIn(ctx, h.App, h.redirectURI(), q.Get("code"), identity.SignIn{Verifier: p.Verifier, Nonce: p.Nonce})
	if err != nil {
		h.Logger.WarnContext(ctx, "portal: sign-in not verified", "err", err)
		h.message(w, r, http.StatusUnauthorized, "Sign-in not accepted", templates.Notice{Title: "Your sign-in could not be confirmed.",
			Detail: "Sign in again. If it keeps happening, contact Presence Bridge support."})
		return
	}
	t, err := h.Store.TenantByMicrosoftTenant(ctx, who.TenantID)
	if errors.Is(err, store.ErrTenantNotFound) {
		h.message(w, r, http.StatusForbidden, "No Presence Bridge account", templates.Notice{
			Title:  "Your Microsoft tenant is not connected to Presence Bridge.",
			Detail: who.Username + " belongs to a Microsoft tenant no Presence Bridge account is connected to. Sign in with an account of your organization's connected tenant, or ask Presence Bridge for an invitation."})
		return
	}
	if err != nil {
		h.fail(w, r, "tenant by Microsoft tenant", err)
		return
	}
	if _, err := h.Store.PortalAdmin(ctx, t.ID, who.ObjectID); errors.Is(err, store.ErrNotPortalAdmin) {
		h.message(w, r, http.StatusForbidden, "Not a portal administrator", templates.Notice{
			Title:  who.Username + " is not an administrator of " + t.Name + "'s Presence Bridge portal.",
			Detail: "Ask one of its portal administrators (" + h.adminNames(r, t.ID) + ") to add you, then sign in again."})
		return
	} else if err != nil {
		h.fail(w, r, "portal admin", err)
		return
	}
	if err := h.Sessions.RenewToken(ctx); err != nil {
		h.fail(w, r, "renew session", err)
		return
	}
	h.Sessions.Put(ctx, sessionTenant, t.ID.String())
	h.Sessions.Put(ctx, sessionObjectID, who.ObjectID.String())
	h.Sessions.Put(ctx, sessionUPN, who.Username)
	h.Sessions.Put(ctx, sessionAuthTime, who.AuthTime.Unix())
	if err := h.Store.Audit(ctx, &t.ID, "portal:"+who.ObjectID.String(), "portal.signed_in", map[string]any{"upn": who.Username}); err != nil {
		h.fail(w, r, "audit sign-in", err)
		return
	}
	http.Redirect(w, r, p.Return, http.StatusSeeOther)
}

// adminNames lists the tenant's portal admins for a refusal page.
func (h *handler) adminNames(r *http.Request, tenantID uuid.UUID) string {
	admins, err := h.Store.PortalAdmins(r.Context(), tenantID)
	if err != nil || len(admins) == 0 {
		return "none yet: contact Presence Bridge support"
	}
	var names []string
	for _, a := range admins {
		names = append(names, a.UPN)
	}
	return strings.Join(names, ", ")
}

// signOut is POST /portal/signout: the session's portal keys go, under a
// new session token.
func (h *handler) signOut(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if a, ok := h.admin(ctx); ok {
		if err := h.Store.Audit(ctx, &a.TenantID, a.Actor(), "portal.signed_out", nil); err != nil {
			h.fail(w, r, "audit sign-out", err)
			return
		}
	}
	if err := h.endSession(ctx); err != nil {
		h.fail(w, r, "renew session", err)
		return
	}
	h.render(w, r, http.StatusOK, templates.PortalSignIn(&templates.Notice{Title: "You are signed out.", OK: true}))
}

// endSession drops the session's portal keys, under a new session token.
func (h *handler) endSession(ctx context.Context) error {
	for _, k := range []string{sessionTenant, sessionObjectID, sessionUPN, sessionAuthTime, sessionPending} {
		h.Sessions.Remove(ctx, k)
	}
	return h.Sessions.RenewToken(ctx)
}
