package tenantui

import (
	"net/http"
	"sort"

	"presencebridge/templates"
)

// home is the tenant's health at a glance, read by the same service the
// tenant API uses (tenantview).
func (h *handler) home(w http.ResponseWriter, r *http.Request) {
	hv, err := h.Views.Health(r.Context(), h.Viewer(r).TenantID)
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
		v.Alerts = append(v.Alerts, templates.TenantAlert{Kind: al.Kind, Message: al.Message, Since: al.RaisedAt.UTC().Format("2 Jan 2006 15:04 UTC")})
	}
	h.render(w, r, http.StatusOK, templates.TenantHome(h.frameNamed(r, "home", hv.Tenant.Name), v))
}
