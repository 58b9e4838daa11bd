package tenantui

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"presencebridge/internal/apikeys"
	"presencebridge/internal/deliver"
	"presencebridge/internal/presence"
	"presencebridge/internal/store"
	"presencebridge/templates"
)

// Integration: the tenant's webhooks (add, change, disable, rotate the
// signing secret with an overlap, reveal it, send a test event, recent
// deliveries and replay them), API keys (create with scopes and an
// optional expiry, list, revoke) and mapping rules with a live preview.
// Every rule is the tenant API's (deliver, apikeys, mappingrules): these
// handlers parse the form, call the service and render.
//
// Every action is a POST answered by a redirect (303), so that a reload
// sends nothing again. A secret shown once — a new webhook's or rotated
// signing secret, a revealed one, a new API key — crosses that redirect
// sealed in the surface's session (Deps.Flash), popped by the one page
// view that shows it.

// flashKey is the session key of the integration pages' flash.
const flashKey = "tenantui.integration.flash"

// flash is what a POST leaves for the page it redirects to.
type flash struct {
	Secret      string            `json:"s,omitempty"`
	SecretLabel string            `json:"l,omitempty"`
	Key         string            `json:"k,omitempty"`
	Notice      *templates.Notice `json:"n,omitempty"`
}

// previewScript is the live preview of the mapping rules: it posts the
// rules form to the preview endpoint as it changes and shows the answer.
// Without JavaScript the form's Preview button does the same.
//
//go:embed integration_preview.js
var previewScript []byte

var previewScriptHash = sync.OnceValue(func() string {
	sum := sha256.Sum256(previewScript)
	return hex.EncodeToString(sum[:6])
})

// integrationRoutes are the section's routes, under Base+"/integration".
func (h *handler) integrationRoutes(r chi.Router) {
	tester := deliver.New(h.Store, deliver.Options{AllowPrivate: h.AllowLoopbackWebhooks, Timeout: 10 * time.Second, Logger: h.Logger})
	r.Get("/", h.integration)
	r.Get("/preview.js", servePreviewScript)
	r.Post("/webhooks", h.addWebhook)
	r.Get("/webhooks/{id}", h.webhook)
	r.Post("/webhooks/{id}", h.changeWebhook)
	r.Post("/webhooks/{id}/enable", h.enableWebhook)
	r.Post("/webhooks/{id}/disable", h.disableWebhook)
	r.Post("/webhooks/{id}/rotate", h.rotateSecret)
	r.Post("/webhooks/{id}/reveal", h.revealSecret)
	r.Post("/webhooks/{id}/test", func(w http.ResponseWriter, r *http.Request) { h.testWebhook(w, r, tester) })
	r.Post("/webhooks/{id}/replay", h.replayWebhook)
	r.Post("/keys", h.createKey)
	r.Post("/keys/{id}/revoke", h.revokeKey)
	r.Post("/rules", h.saveRules)
	r.Post("/rules/preview", h.previewRules)
}

func servePreviewScript(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	if r.URL.Query().Get("v") == previewScriptHash() {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Write(previewScript)
}

// integration is the section's page: webhooks, API keys, mapping rules.
func (h *handler) integration(w http.ResponseWriter, r *http.Request) {
	fl := h.popFlash(r)
	h.integrationPage(w, r, http.StatusOK, func(v *templates.IntegrationView) { v.Notice, v.CreatedKey = fl.Notice, fl.Key })
}

// integrationPage renders the section's page as it is, with what set
// changes (a form as typed, with its errors).
func (h *handler) integrationPage(w http.ResponseWriter, r *http.Request, status int, set func(*templates.IntegrationView)) {
	v, err := h.integrationView(r)
	if err != nil {
		h.fail(w, r, "read integration", err)
		return
	}
	rules, err := h.Store.TenantRules(r.Context(), h.Viewer(r).TenantID)
	if err != nil {
		h.fail(w, r, "read mapping rules", err)
		return
	}
	v.Rules, v.Preview = rulesForm(rules), previewRows(rules)
	set(&v)
	h.render(w, r, status, templates.TenantIntegration(h.frame(r, "integration"), v))
}

// integrationView is the page without its rules: the webhooks and keys,
// and empty forms.
func (h *handler) integrationView(r *http.Request) (templates.IntegrationView, error) {
	ctx, tenant := r.Context(), h.Viewer(r).TenantID
	v := templates.IntegrationView{Script: h.Viewer(r).Base + "/integration/preview.js?v=" + previewScriptHash(),
		NewKey: templates.KeyForm{Scopes: map[string]bool{}}}
	eps, err := h.Store.Endpoints(ctx, tenant)
	if err != nil {
		return v, err
	}
	backlogs, err := h.Store.Backlogs(ctx, tenant)
	if err != nil {
		return v, err
	}
	for _, e := range eps {
		v.Webhooks = append(v.Webhooks, webhookRow(e, backlogs[e.ID]))
	}
	keys, err := h.Store.APIKeys(ctx, tenant)
	if err != nil {
		return v, err
	}
	now := time.Now()
	for _, k := range keys {
		v.Keys = append(v.Keys, templates.APIKeyRow{ID: k.ID.String(), Name: k.Name, Prefix: "pbk_" + k.Prefix,
			Scopes: strings.Join(k.Scopes, ", "), Status: apikeys.Status(k, now), Created: shownTime(&k.CreatedAt),
			LastUsed: shownTime(k.LastUsedAt), Expires: shownTime(k.ExpiresAt)})
	}
	return v, nil
}

func webhookRow(e store.Endpoint, b store.Backlog) templates.WebhookRow {
	return templates.WebhookRow{ID: e.ID.String(), URL: e.URL, Description: e.Description, Enabled: e.Enabled, Reason: e.Reason,
		Pending: b.Pending, Dead: b.Dead, Superseded: b.Superseded, OverlapUntil: shownTime(e.PrevSecretExpiresAt)}
}

// shownTime is a time as the pages show it; "" for none.
func shownTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

// done ends an action: what it leaves for the next page goes into the
// session, and the browser is sent to path (under the section) with 303,
// so that a reload of that page sends nothing again.
func (h *handler) done(w http.ResponseWriter, r *http.Request, path string, f flash) {
	if err := h.keepOnce(r.Context(), flashKey, f); err != nil {
		h.fail(w, r, "keep what to show once", err)
		return
	}
	http.Redirect(w, r, h.Viewer(r).Base+"/integration"+path, http.StatusSeeOther)
}

// popFlash takes what the last action left for this page view.
func (h *handler) popFlash(r *http.Request) flash {
	var f flash
	h.takeOnce(r.Context(), flashKey, &f)
	return f
}

// previewRows are what rules give for the presences Teams commonly shows.
func previewRows(rules presence.Rules) []templates.PreviewRow {
	states := rules.Preview(presence.PreviewSamples)
	out := make([]templates.PreviewRow, len(states))
	for i, s := range presence.PreviewSamples {
		teams := s.Availability + " / " + s.Activity
		if s.OutOfOffice != nil {
			teams += ", out of office"
		}
		out[i] = templates.PreviewRow{Teams: teams, State: string(states[i])}
	}
	return out
}

// rulesForm is rules as the form shows them.
func rulesForm(r presence.Rules) templates.RulesForm {
	f := templates.RulesForm{TalkingInCall: r.TalkingInCall, TalkingInConference: r.TalkingInConference, TalkingInMeeting: r.TalkingInMeeting,
		TalkingPresenting: r.TalkingPresenting, AvailableIdle: string(r.AvailableIdle), BusyIdle: string(r.BusyIdle),
		Debounce: time.Duration(r.Debounce).String(), OutOfOffice: string(r.OutOfOffice), StatusMessage: string(r.StatusMessage)}
	for k, s := range r.WorkLocation {
		switch strings.ToLower(k) {
		case "office":
			f.Office = string(s)
		case "remote":
			f.Remote = string(s)
		case "timeoff":
			f.TimeOff = string(s)
		}
	}
	var lines []string
	for k, s := range r.Overrides {
		lines = append(lines, k+" = "+string(s))
	}
	sort.Strings(lines)
	f.Overrides = strings.Join(lines, "\n")
	return f
}
