package onboarding

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"presencebridge/internal/onboarding"
	"presencebridge/internal/store"
	"presencebridge/templates"
)

// setOwnApp is POST /onboarding/own-app, "Use your own app registration",
// the alternative to consenting to ours. The client secret goes to the
// service, which seals it; it is not echoed on an error, put in the
// session or logged. With field errors the page comes back (422) with the
// rest as typed.
func (h *handler) setOwnApp(w http.ResponseWriter, r *http.Request) {
	tenantID, ok := h.requireTenant(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	a := onboarding.OwnApp{ClientID: trimmed(r, "clientId"), TenantID: trimmed(r, "tenantId"),
		ClientSecret: strings.TrimSpace(r.PostFormValue("clientSecret")), SecretExpires: trimmed(r, "secretExpires")}
	r.PostForm.Del("clientSecret")
	r.Form.Del("clientSecret")
	st, err := h.svc.Status(ctx, tenantID)
	if err != nil {
		h.fail(w, r, "read status", err)
		return
	}
	if !st.FormSaved || st.Completed {
		redirect(w, r, "/onboarding")
		return
	}
	// The expiry reader (Graph's /applications) is not wired yet: the
	// service then asks for the date on the form.
	fe, err := h.svc.SetOwnApp(ctx, tenantID, a, h.expiry, h.actor(ctx, tenantID))
	if err != nil {
		h.fail(w, r, "set own app", err)
		return
	}
	if fe != nil {
		h.renderWith(w, r, tenantID, http.StatusUnprocessableEntity, func(v *templates.OnboardingView) {
			o := &v.Consent.OwnApp
			o.ClientID, o.TenantID, o.SecretExpires, o.Errors = a.ClientID, a.TenantID, a.SecretExpires, fe
		})
		return
	}
	detail := "Monitors sign in through it."
	if needsUpdate(ctx, h.svc, tenantID) {
		detail = "Monitors signed in through the earlier app now need to sign in again (Presence monitors, below)."
	}
	h.flash(ctx, "authorize", done("Your app registration was accepted.", detail))
	redirect(w, r, "/onboarding#step-authorize")
}

// needsUpdate reports whether any monitor waits to sign in again after
// the app registration changed; a failure to tell is not worth an error.
func needsUpdate(ctx context.Context, svc *onboarding.Service, tenantID uuid.UUID) bool {
	st, err := svc.Status(ctx, tenantID)
	if err != nil {
		return false
	}
	for _, m := range st.Monitors {
		if m.Status == store.MonitorNeedsUpdate {
			return true
		}
	}
	return false
}

// ownAppInUse is the tenant's own app registration for the pages, or nil
// while it uses ours (or when Deps.OwnApp is not set).
func (h *handler) ownAppInUse(ctx context.Context, tenantID uuid.UUID) (*templates.OwnAppInUse, error) {
	if h.ownApp == nil {
		return nil, nil
	}
	a, err := h.ownApp(ctx, tenantID)
	if errors.Is(err, store.ErrNoTenantApp) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read own app registration: %w", err)
	}
	in := &templates.OwnAppInUse{ClientID: a.ClientID.String(), TenantID: a.AppTenantID.String()}
	if a.SecretExpiresAt != nil {
		in.SecretExpires = a.SecretExpiresAt.UTC().Format("2 January 2006")
	}
	return in, nil
}
