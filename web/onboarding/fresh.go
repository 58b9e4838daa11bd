package onboarding

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/identity"
	"presencebridge/templates"
)

// Session keys of the invitation's signer beyond its name (sessionSigner):
// their account's object id, and when they last entered credentials.
const (
	sessionSignerID = "signer.oid"
	sessionAuthTime = "signer.auth_time" // Unix seconds
)

// kindReauth: the sign-in that makes the signer's sign-in fresh again.
const kindReauth = "reauth"

// fresh reports whether the signer entered their credentials at most
// identity.FreshFor ago, the rule the portal applies to the same actions.
func (h *handler) fresh(ctx context.Context) bool {
	at := h.sessions.GetInt64(ctx, sessionAuthTime)
	return at != 0 && identity.Fresh(time.Unix(at, 0), h.now())
}

// signedIn records who signed in and when they entered their credentials.
func (h *handler) signedIn(ctx context.Context, who identity.Identity) {
	h.sessions.Put(ctx, sessionSigner, who.Username)
	h.sessions.Put(ctx, sessionSignerID, who.ObjectID.String())
	h.sessions.Put(ctx, sessionAuthTime, who.AuthTime.Unix())
}

// signInAgain is POST /onboarding/signin/again: the signer enters their
// credentials at Microsoft again (prompt=login, max_age), coming back to
// signInCallback.
func (h *handler) signInAgain(w http.ResponseWriter, r *http.Request) {
	tenantID, ok := h.requireTenant(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	state := newState()
	si, err := h.svc.SignInAgain(state, h.sessions.GetString(ctx, sessionSigner))
	if n, ok := problem(err); ok {
		h.message(w, r, http.StatusServiceUnavailable, "Sign-in is not available", *n)
		return
	}
	h.remember(ctx, pending{Kind: kindReauth, State: state, Expires: h.now().Add(stateTTL), Tenant: tenantID,
		Verifier: si.Verifier, Nonce: si.Nonce})
	redirect(w, r, si.URL)
}

// reauthCallback ends signInAgain: the account must be the one that
// signed in with the invitation, its credentials entered recently.
func (h *handler) reauthCallback(w http.ResponseWriter, r *http.Request, p pending) {
	ctx := r.Context()
	q := r.URL.Query()
	back := func(n templates.Notice) {
		h.flash(ctx, "integration", n)
		redirect(w, r, "/onboarding#integration")
	}
	if tenantID, ok := h.tenant(ctx); !ok || tenantID != p.Tenant {
		h.stateRefused(w, r, errStateUnknown)
		return
	}
	if q.Get("error") != "" {
		back(templates.Notice{Title: "You did not sign in again.", Detail: "Microsoft answered: " + firstLine(q.Get("error_description"))})
		return
	}
	who, err := h.svc.FinishSignIn(ctx, q.Get("code"), identity.SignIn{Verifier: p.Verifier, Nonce: p.Nonce})
	if n, ok := problem(err); ok {
		back(*n)
		return
	}
	if err != nil {
		h.fail(w, r, "finish sign-in again", err)
		return
	}
	if signer, err := uuid.Parse(h.sessions.GetString(ctx, sessionSignerID)); err != nil || signer != who.ObjectID {
		back(templates.Notice{Title: "You signed in as " + who.Username + ", not as " + h.sessions.GetString(ctx, sessionSigner) + ".",
			Detail: "Sign in again with the account that opened this onboarding, or use the Presence Bridge portal at /portal."})
		return
	}
	h.signedIn(ctx, who)
	if !h.fresh(ctx) {
		back(templates.Notice{Title: "Microsoft did not ask for your credentials again.", Detail: "Press Sign in again and enter them."})
		return
	}
	back(done("You signed in again.", "You can reveal a signing secret or create an API key for the next 10 minutes."))
}
