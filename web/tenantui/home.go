package tenantui

import (
	"net/http"
	"sort"

	"presencebridge/internal/store"
	"presencebridge/templates"
)

// home is the tenant's health at a glance, read by the same service the
// tenant API uses (tenantview), with what the pages add: the last
// notification, the webhooks' backlog, and where each open alert is fixed.
func (h *handler) home(w http.ResponseWriter, r *http.Request) {
	ctx, vw := r.Context(), h.Viewer(r)
	hv, err := h.Views.Health(ctx, vw.TenantID)
	if err != nil {
		h.fail(w, r, "read health", err)
		return
	}
	v := templates.TenantHomeView{Health: hv.Status.Health, Condition: hv.Status.Condition, Consent: hv.Consent.Status,
		MonitorsAll: hv.MonitorCount(), Monitored: hv.Roster.Users.Monitored, Unmonitored: hv.Roster.Users.Unmonitored,
		Unresolved: hv.Roster.Users.Unresolved, Pending: hv.Roster.Users.Pending}
	for status, n := range hv.Monitors {
		v.Monitors = append(v.Monitors, templates.Count{Label: status, N: n})
	}
	sort.Slice(v.Monitors, func(i, j int) bool { return v.Monitors[i].Label < v.Monitors[j].Label })
	for _, al := range hv.Alerts {
		a := templates.TenantAlert{Kind: al.Kind, Message: al.Message, Since: al.RaisedAt.UTC().Format("2 Jan 2006 15:04 UTC")}
		a.FixURL, a.FixLabel = alertFix(vw.Base, al)
		if al.Kind == store.AlertWriteBackConsent {
			v.WriteBackMissing, v.GrantURL = true, a.FixURL
		}
		v.Alerts = append(v.Alerts, a)
	}
	last, err := h.Store.LastNotificationAt(ctx, vw.TenantID)
	if err != nil {
		h.fail(w, r, "read last notification", err)
		return
	}
	if last != nil {
		v.LastNotification = when(*last)
	}
	if v.Delivery, err = h.deliveryHealth(r); err != nil {
		h.fail(w, r, "read delivery health", err)
		return
	}
	h.render(w, r, http.StatusOK, templates.TenantHome(h.frameNamed(r, "home", hv.Tenant.Name), v))
}

// deliveryHealth sums up the tenant's webhooks and their backlogs.
func (h *handler) deliveryHealth(r *http.Request) (templates.TenantDeliveryHealth, error) {
	var d templates.TenantDeliveryHealth
	tenant := h.Viewer(r).TenantID
	eps, err := h.Store.Endpoints(r.Context(), tenant)
	if err != nil {
		return d, err
	}
	backlogs, err := h.Store.Backlogs(r.Context(), tenant)
	if err != nil {
		return d, err
	}
	for _, ep := range eps {
		d.Endpoints++
		if !ep.Enabled {
			d.Disabled++
		}
		d.Pending += backlogs[ep.ID].Pending
		d.Dead += backlogs[ep.ID].Dead
	}
	return d, nil
}

// alertFix is where an open alert is fixed: Microsoft's consent page for
// the consent alerts (their detail keeps its URL), else the page of ours
// that has the button.
func alertFix(base string, a store.Alert) (url, label string) {
	switch a.Kind {
	case store.AlertWriteBackConsent, store.AlertTenantAccess:
		if u, _ := a.Detail["consent_url"].(string); u != "" {
			return u, "Grant again"
		}
	case store.AlertMonitorNeedsReauth, store.AlertUsersUnmonitored:
		return base + "/monitors/", "Open Monitors"
	case store.AlertEndpointDisabled:
		return base + "/integration/", "Open Integration"
	case store.AlertSecretExpiring:
		return base + "/app/", "Open App registration"
	}
	return "", ""
}
