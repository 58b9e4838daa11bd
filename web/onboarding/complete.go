package onboarding

import (
	"net/http"
)

// complete is POST /onboarding/complete: the tenant becomes active and
// the page turns into the summary.
func (h *handler) complete(w http.ResponseWriter, r *http.Request) {
	tenantID, ok := h.requireTenant(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	err := h.svc.Complete(ctx, tenantID, h.actor(ctx, tenantID))
	if n, ok := problem(err); ok {
		h.flash(ctx, "complete", *n)
		redirect(w, r, "/onboarding#step-complete")
		return
	}
	if err != nil {
		h.fail(w, r, "complete", err)
		return
	}
	h.flash(ctx, "", done("The connection is complete.", "Presence Bridge now looks your users up and subscribes to their presence; the summary below says how far it is."))
	redirect(w, r, "/onboarding")
}
