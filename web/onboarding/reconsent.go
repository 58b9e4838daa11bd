package onboarding

import (
	"net/http"

	"presencebridge/internal/onboarding"
)

// reconsentReturned answers Microsoft's redirect after a consent started
// from an alert's link (state onboarding.ReconsentState) and reports
// whether it did. Such a consent belongs to no session, so it comes to
// either callback (our app registers the consent callback, a tenant's own
// app only the monitors'), changes nothing and only says what happens
// next: the engine confirms the grant itself.
func (h *handler) reconsentReturned(w http.ResponseWriter, r *http.Request) bool {
	q := r.URL.Query()
	if q.Get("state") != onboarding.ReconsentState {
		return false
	}
	if n, ok := problem(onboarding.Reconsented(q)); ok {
		h.message(w, r, http.StatusOK, "Consent not given", *n)
		return true
	}
	h.message(w, r, http.StatusOK, "Consent given", done("Microsoft recorded your consent.",
		"Presence Bridge checks its permissions in your tenant within a minute; the alert then clears by itself. "+
			"The presence monitors need not sign in again. You can close this page."))
	return true
}
