package onboarding

import (
	"context"
	"errors"
	"net/http"
	"strings"

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
	var err error
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

// completedSummary reads the session's tenant and builds its summary;
// when it returns false it has answered: the integration actions exist
// only once the connection is complete.
func (h *handler) completedSummary(w http.ResponseWriter, r *http.Request) (templates.SummaryView, bool) {
	tenantID, ok := h.requireTenant(w, r)
	if !ok {
		return templates.SummaryView{}, false
	}
	ctx := r.Context()
	st, err := h.svc.Status(ctx, tenantID)
	if err != nil {
		h.fail(w, r, "read status", err)
		return templates.SummaryView{}, false
	}
	if !st.Completed {
		h.message(w, r, http.StatusConflict, "Complete the connection first", templates.Notice{
			Title:  "Integration details are available once the connection is complete.",
			Detail: "Go back to the onboarding page, finish the steps and press Complete the connection."})
		return templates.SummaryView{}, false
	}
	v, err := h.summary(ctx, st)
	if err != nil {
		h.fail(w, r, "build summary", err)
		return templates.SummaryView{}, false
	}
	return v, true
}

// revealSigningSecret is POST /onboarding/integrations/reveal: the summary
// page comes back with the webhook's signing secret in a read-only field.
// Only this response holds it (no-store, like every onboarding page); it
// is never in a URL, the session or a log.
func (h *handler) revealSigningSecret(w http.ResponseWriter, r *http.Request) {
	v, ok := h.completedSummary(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	tenantID, _ := h.tenant(ctx)
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
	for i := range v.Integrations.Webhooks {
		if v.Integrations.Webhooks[i].URL == target {
			v.Integrations.Webhooks[i].Secret = secret
		}
	}
	h.render(w, r, http.StatusOK, templates.OnboardingSummary(v))
}

// createAPIKey is POST /onboarding/api-keys: a new key for the event
// stream and the REST API, shown in this response alone. The service
// keeps only its hash.
func (h *handler) createAPIKey(w http.ResponseWriter, r *http.Request) {
	v, ok := h.completedSummary(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	tenantID, _ := h.tenant(ctx)
	key, err := h.svc.NewAPIKey(ctx, tenantID, "platform", h.actor(ctx, tenantID))
	if err != nil {
		h.fail(w, r, "create API key", err)
		return
	}
	v.Integrations.APIKey = key
	v.Integrations.Notice = &templates.Notice{Title: "API key created.", Detail: "Copy it now: it cannot be shown again.", OK: true}
	h.render(w, r, http.StatusOK, templates.OnboardingSummary(v))
}
