package onboarding

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"presencebridge/internal/onboarding"
	"presencebridge/templates"
)

// openInvite is GET /onboarding/i/{token}: the invitation link binds its
// tenant to this browser's session and leads to the onboarding page.
func (h *handler) openInvite(w http.ResponseWriter, r *http.Request) {
	token := chi.URLParam(r, "token")
	hideToken(r, "/onboarding/i/")
	tenantID, err := h.svc.OpenInvite(r.Context(), token)
	if err != nil {
		h.linkRefused(w, r, err)
		return
	}
	ctx := r.Context()
	// A new session token now that the session grants access to a tenant:
	// a token planted in this browser before (session fixation) is useless.
	if err := h.sessions.RenewToken(ctx); err != nil {
		h.fail(w, r, "renew session", err)
		return
	}
	if prev, ok := h.tenant(ctx); ok && prev != tenantID {
		h.sessions.Remove(ctx, sessionPending)
		h.sessions.Remove(ctx, sessionRenewing)
		h.sessions.Remove(ctx, sessionFlash)
	}
	h.sessions.Put(ctx, sessionTenant, tenantID.String())
	http.Redirect(w, r, "/onboarding", http.StatusSeeOther)
}

// linkRefused explains a link that does not work: 410 when it expired or
// was withdrawn, 404 when it is not one of ours.
func (h *handler) linkRefused(w http.ResponseWriter, r *http.Request, err error) {
	var p *onboarding.Problem
	if !errors.As(err, &p) {
		h.fail(w, r, "open link", err)
		return
	}
	status := http.StatusNotFound
	if p == onboarding.ErrLinkExpired || p == onboarding.ErrLinkRevoked {
		status = http.StatusGone
	}
	h.message(w, r, status, "This link does not work", templates.Notice{Title: p.Title, Detail: p.Detail})
}
