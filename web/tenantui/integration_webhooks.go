package tenantui

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/deliver"
	"presencebridge/internal/english"
	"presencebridge/internal/store"
	"presencebridge/templates"
)

// One webhook: its page (status, settings, recent deliveries) and what is
// done to it.

// recentDeliveries is how many deliveries a webhook's page lists.
const recentDeliveries = 20

// addWebhook is POST /integration/webhooks: a new endpoint, whose signing
// secret its page then shows once. It reveals a secret, so it asks for a
// recent sign-in first.
func (h *handler) addWebhook(w http.ResponseWriter, r *http.Request) {
	if h.readOnly(w, r) || !h.RequireFresh(w, r) {
		return
	}
	who := h.Viewer(r)
	s := deliver.Settings{URL: strings.TrimSpace(r.PostFormValue("url")), Description: strings.TrimSpace(r.PostFormValue("description"))}
	e, secret, err := deliver.AddEndpoint(r.Context(), h.Store, who.TenantID, s, who.Actor, h.AllowLoopbackWebhooks)
	var bad *deliver.Invalid
	if errors.As(err, &bad) {
		h.integrationPage(w, r, http.StatusUnprocessableEntity, func(v *templates.IntegrationView) {
			v.AddWebhook = templates.WebhookForm{URL: s.URL, Description: s.Description, Errors: map[string]string{bad.Field: bad.Message}}
		})
		return
	}
	if err != nil {
		h.fail(w, r, "add webhook", err)
		return
	}
	h.done(w, r, "/webhooks/"+e.ID.String(), flash{Secret: secret, SecretLabel: "Signing secret",
		Notice: &templates.Notice{OK: true, Title: "Webhook added.", Detail: "Events published from now on are sent to it."}})
}

// endpointParam is the webhook the path names, if it is the tenant's;
// otherwise it answers 404 and returns false.
func (h *handler) endpointParam(w http.ResponseWriter, r *http.Request) (store.Endpoint, bool) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err == nil {
		e, err := h.Store.GetEndpoint(r.Context(), h.Viewer(r).TenantID, id)
		if err == nil {
			return e, true
		}
		if !errors.Is(err, store.ErrEndpointNotFound) {
			h.fail(w, r, "read webhook", err)
			return store.Endpoint{}, false
		}
	}
	h.noWebhook(w, r)
	return store.Endpoint{}, false
}

func (h *handler) noWebhook(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusNotFound, templates.TenantMessage(h.frame(r, "integration"), "Webhook not found", templates.Notice{
		Title: "This tenant has no such webhook.", Detail: "It may have been deleted. Go back to Integration."}))
}

// webhook is a webhook's page.
func (h *handler) webhook(w http.ResponseWriter, r *http.Request) {
	e, ok := h.endpointParam(w, r)
	if !ok {
		return
	}
	v, err := h.webhookView(r, e)
	if err != nil {
		h.fail(w, r, "read webhook", err)
		return
	}
	fl := h.popFlash(r)
	v.Notice, v.Secret, v.SecretLabel = fl.Notice, fl.Secret, fl.SecretLabel
	h.render(w, r, http.StatusOK, templates.TenantWebhook(h.frame(r, "integration"), v))
}

func (h *handler) webhookView(r *http.Request, e store.Endpoint) (templates.WebhookPageView, error) {
	ctx := r.Context()
	backlogs, err := h.Store.Backlogs(ctx, e.TenantID)
	if err != nil {
		return templates.WebhookPageView{}, err
	}
	v := templates.WebhookPageView{Webhook: webhookRow(e, backlogs[e.ID]), Form: templates.WebhookForm{URL: e.URL, Description: e.Description}}
	ds, err := h.Store.EndpointDeliveries(ctx, e.TenantID, e.ID, store.DeliveryPage{Limit: recentDeliveries})
	if err != nil {
		return v, err
	}
	for _, d := range ds {
		row := templates.DeliveryRow{ID: d.ID, Event: d.EventID.String(), User: d.User.UPN, Status: d.Status, Attempts: d.Attempts,
			Last: d.LastError, Created: shownTime(&d.CreatedAt)}
		if row.User == "" {
			row.User = d.User.ObjectID.String()
		}
		if row.Last == "" && d.LastStatus != nil {
			row.Last = "HTTP " + strconv.Itoa(*d.LastStatus)
		}
		v.Deliveries = append(v.Deliveries, row)
	}
	return v, nil
}

// changeWebhook is POST /integration/webhooks/{id}: its URL and
// description.
func (h *handler) changeWebhook(w http.ResponseWriter, r *http.Request) {
	next := deliver.Settings{URL: strings.TrimSpace(r.PostFormValue("url")), Description: strings.TrimSpace(r.PostFormValue("description"))}
	h.changeEndpoint(w, r, "settings", func(cur store.Endpoint) deliver.Settings {
		next.Enabled = cur.Enabled
		return next
	}, "Webhook saved.")
}

func (h *handler) enableWebhook(w http.ResponseWriter, r *http.Request) {
	h.changeEndpoint(w, r, "enable", func(cur store.Endpoint) deliver.Settings {
		return deliver.Settings{URL: cur.URL, Description: cur.Description, Enabled: true}
	}, "Webhook enabled: events published from now on are sent to it.")
}

func (h *handler) disableWebhook(w http.ResponseWriter, r *http.Request) {
	h.changeEndpoint(w, r, "disable", func(cur store.Endpoint) deliver.Settings {
		return deliver.Settings{URL: cur.URL, Description: cur.Description, Enabled: false}
	}, "Webhook disabled: its waiting deliveries are dead; replay them once it is enabled again.")
}

// changeEndpoint gives the webhook of the path the settings next makes of
// it, locked so that nothing changes in between (deliver.ChangeEndpoint);
// settings a webhook cannot have come back on its page with the reason.
func (h *handler) changeEndpoint(w http.ResponseWriter, r *http.Request, what string, next func(store.Endpoint) deliver.Settings, ok string) {
	if h.readOnly(w, r) {
		return
	}
	who := h.Viewer(r)
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		h.noWebhook(w, r)
		return
	}
	var cur store.Endpoint
	var s deliver.Settings
	err = h.Store.InTx(r.Context(), func(tx store.Tx) error {
		var err error
		if cur, err = tx.LockEndpoint(r.Context(), who.TenantID, id); err != nil {
			return err
		}
		s = next(cur)
		return deliver.ChangeEndpoint(r.Context(), tx, cur, s, who.Actor, "disabled by "+who.Name, h.AllowLoopbackWebhooks)
	})
	var bad *deliver.Invalid
	switch {
	case errors.Is(err, store.ErrEndpointNotFound):
		h.noWebhook(w, r)
	case errors.As(err, &bad):
		v, err := h.webhookView(r, cur)
		if err != nil {
			h.fail(w, r, "read webhook", err)
			return
		}
		v.Form = templates.WebhookForm{URL: s.URL, Description: s.Description, Errors: map[string]string{bad.Field: bad.Message}}
		h.render(w, r, http.StatusUnprocessableEntity, templates.TenantWebhook(h.frame(r, "integration"), v))
	case err != nil:
		h.fail(w, r, what+" webhook", err)
	default:
		h.done(w, r, "/webhooks/"+id.String(), flash{Notice: &templates.Notice{OK: true, Title: ok}})
	}
}

// overlaps are the rotation overlaps the form offers, in seconds.
var overlaps = map[string]time.Duration{"0": 0, "3600": time.Hour, "86400": 24 * time.Hour, "604800": 7 * 24 * time.Hour}

// rotateSecret is POST /integration/webhooks/{id}/rotate: a new signing
// secret, shown once, the old one signing beside it for the overlap.
func (h *handler) rotateSecret(w http.ResponseWriter, r *http.Request) {
	if h.readOnly(w, r) || !h.RequireFresh(w, r) {
		return
	}
	e, ok := h.endpointParam(w, r)
	if !ok {
		return
	}
	overlap, ok := overlaps[r.PostFormValue("overlap")]
	if !ok {
		overlap = deliver.DefaultOverlap
	}
	who := h.Viewer(r)
	secret, e, err := deliver.RotateSecret(r.Context(), h.Store, who.TenantID, e.ID, overlap, who.Actor)
	if err != nil {
		h.fail(w, r, "rotate signing secret", err)
		return
	}
	detail := "The previous secret stopped signing."
	if e.PrevSecretExpiresAt != nil {
		detail = "Until " + shownTime(e.PrevSecretExpiresAt) + " each delivery is also signed with the previous secret: move your platform to the new one before then."
	}
	h.done(w, r, "/webhooks/"+e.ID.String(), flash{Secret: secret, SecretLabel: "New signing secret",
		Notice: &templates.Notice{OK: true, Title: "Signing secret rotated.", Detail: detail}})
}

// revealSecret is POST /integration/webhooks/{id}/reveal: the current
// signing secret, shown once on the webhook's page, audited.
func (h *handler) revealSecret(w http.ResponseWriter, r *http.Request) {
	if h.readOnly(w, r) || !h.RequireFresh(w, r) {
		return
	}
	e, ok := h.endpointParam(w, r)
	if !ok {
		return
	}
	who := h.Viewer(r)
	secret, err := deliver.RevealSecret(r.Context(), h.Store, who.TenantID, e.ID, who.Actor)
	if err != nil {
		h.fail(w, r, "reveal signing secret", err)
		return
	}
	h.done(w, r, "/webhooks/"+e.ID.String(), flash{Secret: secret, SecretLabel: "Signing secret"})
}

// testWebhook is POST /integration/webhooks/{id}/test: a signed test
// event sent now, and how the endpoint took it.
func (h *handler) testWebhook(w http.ResponseWriter, r *http.Request, tester *deliver.Deliverer) {
	if h.readOnly(w, r) {
		return
	}
	e, ok := h.endpointParam(w, r)
	if !ok {
		return
	}
	who := h.Viewer(r)
	res, err := tester.SendTest(r.Context(), who.TenantID, e.ID)
	if err == nil {
		err = h.Store.Audit(r.Context(), &who.TenantID, who.Actor, "endpoint.tested",
			map[string]any{"endpoint": e.ID, "event": res.EventID, "status": res.Status})
	}
	if err != nil {
		h.fail(w, r, "send test event", err)
		return
	}
	n := &templates.Notice{OK: true, Title: "The test event was delivered.",
		Detail: fmt.Sprintf("The endpoint answered HTTP %d in %d ms.", res.Status, res.Latency.Milliseconds())}
	if res.Error != "" {
		n = &templates.Notice{Title: "The test event was not delivered.", Detail: res.Error}
	}
	h.done(w, r, "/webhooks/"+e.ID.String(), flash{Notice: n})
}

// replayWebhook is POST /integration/webhooks/{id}/replay: one dead or
// superseded delivery (the form's delivery), or all of them, back in the
// queue where that keeps each user's order.
func (h *handler) replayWebhook(w http.ResponseWriter, r *http.Request) {
	if h.readOnly(w, r) {
		return
	}
	e, ok := h.endpointParam(w, r)
	if !ok {
		return
	}
	var f store.ReplayFilter
	if raw := r.PostFormValue("delivery"); raw != "" {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			h.noWebhook(w, r)
			return
		}
		f.IDs = []int64{id}
	}
	who := h.Viewer(r)
	res, err := deliver.Replay(r.Context(), h.Store, who.TenantID, e.ID, who.Actor, f)
	if errors.Is(err, deliver.ErrEndpointDisabled) {
		h.done(w, r, "/webhooks/"+e.ID.String(), flash{Notice: &templates.Notice{Title: "Enable the webhook first.",
			Detail: "Nothing is sent to a disabled webhook; once it is enabled, Replay sends what it missed, in order."}})
		return
	}
	if err != nil {
		h.fail(w, r, "replay deliveries", err)
		return
	}
	n := &templates.Notice{OK: true, Title: english.Count(int(res.Replayed), "delivery", "deliveries") + " sent again."}
	if res.Kept > 0 {
		n.Detail = english.Count(int(res.Kept), "delivery was", "deliveries were") +
			" kept back: a newer state of the same user already reached the endpoint, and sending it would move that user backwards."
	}
	h.done(w, r, "/webhooks/"+e.ID.String(), flash{Notice: n})
}
