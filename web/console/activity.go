package console

import (
	"net/http"

	"presencebridge/templates"
	"presencebridge/web/tenantui"
)

// Activity (/console/activity/): every tenant's traffic and latency
// together — notifications per minute, latency p50 and p99, failed
// webhook attempts — over a span (?span=1h|24h|7d|30d), as the tenant
// pages' Activity shows one tenant's. A tenant's own figures are on its
// Activity page.

// activity is GET /console/activity/.
func (h *handler) activity(w http.ResponseWriter, r *http.Request) {
	v, err := tenantui.OverallActivity(r.Context(), h.Store, r.URL.Query().Get("span"), Prefix+"/activity/", h.Now())
	if err != nil {
		h.fail(w, r, "overall activity", err)
		return
	}
	h.render(w, r, http.StatusOK, templates.ConsoleActivity(h.frame(r, "activity"), v))
}
