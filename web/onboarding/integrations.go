package onboarding

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"presencebridge/internal/onboarding"
	"presencebridge/templates"
)

// summary builds the summary page of a completed onboarding (without
// signing secrets: only Reveal opens one).
func (h *handler) summary(ctx context.Context, st onboarding.Status) (templates.SummaryView, error) {
	v := templates.SummaryView{Company: st.Tenant.Name, MicrosoftTenant: st.Tenant.MSDomain, AdminEmail: st.Tenant.AdminEmail,
		TelephonyAccount: st.Tenant.TelephonyAccountID, Users: st.Users, Monitored: st.UserCounts.Monitored,
		Unresolved: st.UserCounts.Unresolved, Pending: st.UserCounts.Pending, EventTarget: st.Form.EventTarget,
		WebhookURL: st.Form.WebhookURL, CopyScript: templates.Asset("js/copy.js"),
		Integrations: templates.IntegrationsView{CSRF: h.csrf.Token(ctx),
			APIBase: strings.TrimSuffix(h.svc.MonitorRedirectURI(), "/onboarding/monitors/callback")}}
	if st.Form.UsersSource == "group" {
		v.FromGroup = st.Form.Group
	}
	if st.Onboarding.ConsentedAt != nil {
		v.ConsentedAt = st.Onboarding.ConsentedAt.UTC().Format("2 January 2006, 15:04 UTC")
	}
	if st.Onboarding.CompletedAt != nil {
		v.CompletedAt = st.Onboarding.CompletedAt.UTC().Format("2 January 2006, 15:04 UTC")
	}
	for _, m := range st.Monitors {
		v.Monitors = append(v.Monitors, monitorView(m, false))
	}
	mon, err := h.svc.Monitoring(ctx, st.Tenant.ID)
	if err != nil {
		return v, err
	}
	v.Monitoring = templates.MonitoringView{Users: mon.Users, Subscriptions: mon.Subscriptions}
	v.Integrations.Stale = !h.fresh(ctx)
	if v.OwnApp, err = h.ownAppInUse(ctx, st.Tenant.ID); err != nil {
		return v, err
	}
	ints, err := h.svc.Integrations(ctx, st.Tenant.ID)
	if err != nil {
		return v, err
	}
	for _, in := range ints {
		v.Integrations.Webhooks = append(v.Integrations.Webhooks, templates.WebhookView{URL: in.WebhookURL, Enabled: in.Enabled})
	}
	return v, nil
}

// revealSigningSecret is POST /onboarding/integrations/reveal: after a
// fresh sign-in, the webhook's signing secret is shown once in a
// read-only field of the summary the redirect leads to (303: a reload
// sends nothing again). It is never in a URL or a log; the session holds
// it, sealed, only until that page view.
func (h *handler) revealSigningSecret(w http.ResponseWriter, r *http.Request) {
	tenantID, ok := h.integrationRequest(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	target := r.PostFormValue("url")
	secret, err := h.svc.SigningSecret(ctx, tenantID, target, h.actor(ctx, tenantID))
	if errors.Is(err, onboarding.ErrUnknownWebhook) {
		h.message(w, r, http.StatusNotFound, "Webhook not found", templates.Notice{
			Title: "This webhook is not part of your connection.", Detail: "Go back to the onboarding page and reload it."})
		return
	}
	if err != nil {
		h.fail(w, r, "open signing secret", err)
		return
	}
	ints, err := h.svc.Integrations(ctx, tenantID)
	if err != nil {
		h.fail(w, r, "list webhooks", err)
		return
	}
	anchor := "#integration"
	for i, in := range ints {
		if in.WebhookURL == target {
			anchor = "#" + templates.WebhookID(i)
		}
	}
	h.showThenRedirect(w, r, shown{Webhook: target, Secret: secret}, "/onboarding"+anchor)
}

// createAPIKey is POST /onboarding/api-keys: after a fresh sign-in, a new
// key for the event stream and the REST API, shown once on the summary
// the redirect leads to. The service keeps only its hash.
func (h *handler) createAPIKey(w http.ResponseWriter, r *http.Request) {
	tenantID, ok := h.integrationRequest(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	key, err := h.svc.NewAPIKey(ctx, tenantID, "platform", h.actor(ctx, tenantID))
	if err != nil {
		h.fail(w, r, "create API key", err)
		return
	}
	h.flash(ctx, "integration", done("API key created.", "Copy it now: it cannot be shown again."))
	h.showThenRedirect(w, r, shown{APIKey: key}, "/onboarding#api-keys")
}

// integrationRequest lets a summary action go on for a completed
// onboarding whose admin signed in at most identity.FreshFor ago; a stale
// sign-in goes back to the summary, which offers to sign in again. When
// it returns false it has answered.
func (h *handler) integrationRequest(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	tenantID, ok := h.requireTenant(w, r)
	if !ok {
		return tenantID, false
	}
	ctx := r.Context()
	st, err := h.svc.Status(ctx, tenantID)
	if err != nil {
		h.fail(w, r, "read status", err)
		return tenantID, false
	}
	if !st.Completed {
		h.message(w, r, http.StatusConflict, "Complete the connection first", templates.Notice{
			Title:  "Integration details are available once the connection is complete.",
			Detail: "Go back to the onboarding page, finish the steps and press Complete the connection."})
		return tenantID, false
	}
	if !h.fresh(ctx) {
		h.flash(ctx, "integration", templates.Notice{Title: "Sign in again to continue.",
			Detail: "Revealing a signing secret or creating an API key needs a sign-in at most 10 minutes old. " +
				"Press Sign in again, then press the button once more."})
		redirect(w, r, "/onboarding#integration")
		return tenantID, false
	}
	return tenantID, true
}
