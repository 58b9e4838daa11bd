package onboarding

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/identity"
	"presencebridge/internal/onboarding"
	"presencebridge/templates"
)

// Session keys of the invitation's sign-in: the invitation opened in this
// browser (before anyone signed in), and who signed in with it.
const (
	sessionInvite = "invite"
	sessionSigner = "signer"
)

type openedInvite struct {
	Invite uuid.UUID `json:"i"`
	Tenant uuid.UUID `json:"t"`
}

// openInvite is GET /onboarding/i/{token}: a valid invitation asks the
// person to sign in with Microsoft; nothing of the tenant is shown before.
// A new session token now that the session holds an invitation: a token
// planted in this browser before (session fixation) is useless.
func (h *handler) openInvite(w http.ResponseWriter, r *http.Request) {
	token := chi.URLParam(r, "token")
	hideToken(r, "/onboarding/i/")
	inv, err := h.svc.Invitation(r.Context(), token)
	if err != nil {
		h.linkRefused(w, r, err)
		return
	}
	ctx := r.Context()
	if err := h.sessions.RenewToken(ctx); err != nil {
		h.fail(w, r, "renew session", err)
		return
	}
	b, _ := json.Marshal(openedInvite{Invite: inv.ID, Tenant: inv.TenantID})
	h.sessions.Put(ctx, sessionInvite, b)
	h.renderSignIn(w, r, http.StatusOK, inv.TenantID, nil)
}

func (h *handler) renderSignIn(w http.ResponseWriter, r *http.Request, status int, tenantID uuid.UUID, n *templates.Notice) {
	st, err := h.svc.Status(r.Context(), tenantID)
	if err != nil {
		h.fail(w, r, "read status", err)
		return
	}
	h.render(w, r, status, templates.OnboardingSignIn(templates.SignInView{CSRF: h.csrf.Token(r.Context()), Company: st.Tenant.Name, Problem: n}))
}

func (h *handler) openedInvite(r *http.Request) (openedInvite, bool) {
	var o openedInvite
	b := h.sessions.GetBytes(r.Context(), sessionInvite)
	return o, b != nil && json.Unmarshal(b, &o) == nil && o.Invite != uuid.Nil
}

// startSignIn is POST /onboarding/signin: a fresh state kept in the
// session, then off to Microsoft's sign-in page.
func (h *handler) startSignIn(w http.ResponseWriter, r *http.Request) {
	o, ok := h.openedInvite(r)
	if !ok {
		h.requireInvitation(w, r)
		return
	}
	ctx := r.Context()
	state := newState()
	si, err := h.svc.SignIn(state)
	if n, ok := problem(err); ok {
		h.message(w, r, http.StatusServiceUnavailable, "Sign-in is not available", *n)
		return
	}
	h.remember(ctx, pending{Kind: kindSignIn, State: state, Expires: h.now().Add(stateTTL), Tenant: o.Tenant, Invite: o.Invite,
		Verifier: si.Verifier, Nonce: si.Nonce})
	redirect(w, r, si.URL)
}

// signInCallback is GET /onboarding/signin/callback: the state must be
// this session's; the signer must then be let in by the service (Accept).
// Only then does the session grant the tenant's onboarding, under a new
// session token.
func (h *handler) signInCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	p, err := h.take(ctx, kindSignIn, q.Get("state"))
	if errors.Is(err, errStateUnknown) {
		if p, err := h.take(ctx, kindReauth, q.Get("state")); err == nil {
			h.reauthCallback(w, r, p)
			return
		} else if !errors.Is(err, errStateUnknown) {
			h.stateRefused(w, r, err)
			return
		}
	}
	if err != nil {
		h.stateRefused(w, r, err)
		return
	}
	if o, ok := h.openedInvite(r); !ok || o.Invite != p.Invite {
		h.stateRefused(w, r, errStateUnknown)
		return
	}
	if q.Get("error") != "" {
		h.renderSignIn(w, r, http.StatusOK, p.Tenant, &templates.Notice{Title: "You did not sign in.",
			Detail: "Microsoft answered: " + firstLine(q.Get("error_description")) + " Sign in again to continue."})
		return
	}
	who, err := h.svc.FinishSignIn(ctx, q.Get("code"), identity.SignIn{Verifier: p.Verifier, Nonce: p.Nonce})
	if err == nil {
		err = h.svc.Accept(ctx, onboarding.Invitation{ID: p.Invite, TenantID: p.Tenant}, who)
	}
	if n, ok := problem(err); ok {
		h.message(w, r, http.StatusForbidden, "You cannot open this invitation", *n)
		return
	}
	if err != nil {
		h.fail(w, r, "accept signer", err)
		return
	}
	if err := h.sessions.RenewToken(ctx); err != nil {
		h.fail(w, r, "renew session", err)
		return
	}
	if prev, ok := h.tenant(ctx); ok && prev != p.Tenant {
		h.sessions.Remove(ctx, sessionPending)
		h.sessions.Remove(ctx, sessionRenewing)
		h.sessions.Remove(ctx, sessionFlash)
	}
	h.sessions.Remove(ctx, sessionInvite)
	h.sessions.Put(ctx, sessionTenant, p.Tenant.String())
	h.signedIn(ctx, who)
	redirect(w, r, "/onboarding")
}

func (h *handler) requireInvitation(w http.ResponseWriter, r *http.Request) {
	h.message(w, r, http.StatusForbidden, "Open your invitation link", templates.Notice{
		Title: "This browser has no invitation open.", Detail: "Open the invitation link you received from Presence Bridge, then sign in."})
}

// linkRefused explains a link that does not work: 410 when it expired or
// was withdrawn, or its onboarding is complete; 404 when it is not one of
// ours.
func (h *handler) linkRefused(w http.ResponseWriter, r *http.Request, err error) {
	var p *onboarding.Problem
	if !errors.As(err, &p) {
		h.fail(w, r, "open link", err)
		return
	}
	status := http.StatusNotFound
	heading := "This link does not work"
	switch p {
	case onboarding.ErrLinkExpired, onboarding.ErrLinkRevoked:
		status = http.StatusGone
	case onboarding.ErrOnboardingDone:
		status, heading = http.StatusGone, "Onboarding is done"
	}
	h.message(w, r, status, heading, templates.Notice{Title: p.Title, Detail: p.Detail})
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}
