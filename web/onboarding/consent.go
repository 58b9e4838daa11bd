package onboarding

import (
	"net/http"

	"presencebridge/templates"
)

// startConsent is POST /onboarding/consent: a fresh state kept in the
// session, then off to Microsoft's admin-consent page.
func (h *handler) startConsent(w http.ResponseWriter, r *http.Request) {
	tenantID, ok := h.requireTenant(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	state := newState()
	u, err := h.svc.ConsentURL(ctx, tenantID, state)
	if n, ok := problem(err); ok {
		h.flash(ctx, "authorize", *n)
		redirect(w, r, "/onboarding#step-authorize")
		return
	}
	if err != nil {
		h.fail(w, r, "consent URL", err)
		return
	}
	h.remember(ctx, pending{Kind: kindConsent, State: state, Expires: h.now().Add(stateTTL), Tenant: tenantID,
		Actor: h.actor(ctx, tenantID)})
	redirect(w, r, u)
}

// consentCallback is GET /onboarding/consent/callback, where Microsoft
// sends the admin back. The state must be this session's, unexpired and
// unused; the service then confirms consent independently. A consent
// given from an alert's link comes back here too (reconsentReturned).
func (h *handler) consentCallback(w http.ResponseWriter, r *http.Request) {
	if h.reconsentReturned(w, r) {
		return
	}
	ctx := r.Context()
	q := r.URL.Query()
	p, err := h.take(ctx, kindConsent, q.Get("state"))
	if err != nil {
		h.stateRefused(w, r, err)
		return
	}
	if tenantID, ok := h.tenant(ctx); !ok || tenantID != p.Tenant {
		h.stateRefused(w, r, errStateUnknown)
		return
	}
	err = h.svc.FinishConsent(ctx, p.Tenant, q, p.Actor)
	if n, ok := problem(err); ok {
		h.flash(ctx, "authorize", *n)
		redirect(w, r, "/onboarding#step-authorize")
		return
	}
	if err != nil {
		h.fail(w, r, "finish consent", err)
		return
	}
	h.flash(ctx, "authorize", templates.Notice{Title: "Presence Bridge is authorized.", Detail: "Next, sign in the presence monitors.", OK: true})
	redirect(w, r, "/onboarding#step-monitors")
}
