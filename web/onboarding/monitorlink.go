package onboarding

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/onboarding"
	"presencebridge/internal/store"
	"presencebridge/templates"
)

const sessionLink = "link"

// linkBinding is the Copy URL this browser opened: which monitor its
// holder may sign in. The link itself is not kept.
type linkBinding struct {
	Tenant     uuid.UUID `json:"t"`
	Monitor    uuid.UUID `json:"m"`
	Generation int       `json:"g"`
	UPN        string    `json:"u"`
	Company    string    `json:"c"`
}

// openMonitorLink is GET /onboarding/m/{token}, the Copy URL, opened by
// whoever holds the monitor's credentials, usually in another browser
// with no admin session.
func (h *handler) openMonitorLink(w http.ResponseWriter, r *http.Request) {
	token := chi.URLParam(r, "token")
	hideToken(r, "/onboarding/m/")
	t, m, err := h.svc.OpenMonitorLink(r.Context(), token)
	if n, ok := problem(err); ok && errors.Is(err, onboarding.ErrMonitorSignedIn) {
		n.OK = true
		h.message(w, r, http.StatusOK, "Already signed in", *n)
		return
	}
	if err != nil {
		h.linkRefused(w, r, err)
		return
	}
	ctx := r.Context()
	if err := h.sessions.RenewToken(ctx); err != nil {
		h.fail(w, r, "renew session", err)
		return
	}
	b, _ := json.Marshal(linkBinding{Tenant: t.ID, Monitor: m.ID, Generation: m.LinkGeneration, UPN: m.UPN, Company: t.Name})
	h.sessions.Put(ctx, sessionLink, b)
	h.render(w, r, http.StatusOK, templates.OnboardingMonitorLink(templates.MonitorLinkView{
		CSRF: h.csrf.Token(ctx), UPN: m.UPN, Company: t.Name}))
}

func (h *handler) linkBinding(ctx context.Context) (linkBinding, bool) {
	var b linkBinding
	raw := h.sessions.GetBytes(ctx, sessionLink)
	return b, raw != nil && json.Unmarshal(raw, &b) == nil
}

// startLinkSignIn is POST /onboarding/m/start, the Sign in button of the
// Copy URL page: the sign-in runs in this browser's session. The link must
// still be current (not withdrawn by Retry, not used).
func (h *handler) startLinkSignIn(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	b, ok := h.linkBinding(ctx)
	if !ok {
		h.noLinkOpen(w, r)
		return
	}
	if !h.linkCurrent(w, r, b) {
		return
	}
	h.startMonitorSignIn(w, r, pending{Kind: kindMonitor, Tenant: b.Tenant, Monitor: b.Monitor, ViaLink: true,
		Actor: "monitor-link:" + b.UPN}, func(n *templates.Notice) {
		h.render(w, r, http.StatusOK, templates.OnboardingMonitorLink(templates.MonitorLinkView{
			CSRF: h.csrf.Token(ctx), UPN: b.UPN, Company: b.Company, Problem: n}))
	})
}

// linkCurrent checks that the bound link's monitor still waits for it.
func (h *handler) linkCurrent(w http.ResponseWriter, r *http.Request, b linkBinding) bool {
	st, err := h.svc.Status(r.Context(), b.Tenant)
	if err != nil {
		h.fail(w, r, "read status", err)
		return false
	}
	for _, m := range st.Monitors {
		if m.ID == b.Monitor && m.LinkGeneration == b.Generation {
			return true
		}
		if m.ID == b.Monitor && m.Status == store.MonitorAuthorized {
			h.message(w, r, http.StatusOK, "Already signed in", done(m.UPN+" is already signed in.", "Nothing more to do: you can close this page."))
			return false
		}
	}
	h.message(w, r, http.StatusGone, "This link does not work", templates.Notice{
		Title: "This link was withdrawn or has already been used.", Detail: "Ask the administrator who sent it for a new one."})
	return false
}

// linkSignInDone ends a Copy URL sign-in on a page of its own, reached by
// a redirect so the address keeps no code or state: "done, you can close
// this page", or the problem and the Sign in button to try again.
func (h *handler) linkSignInDone(w http.ResponseWriter, r *http.Request, p pending, err error) {
	ctx := r.Context()
	b, _ := h.linkBinding(ctx)
	if err == nil {
		h.sessions.Remove(ctx, sessionLink)
		h.sessions.Put(ctx, sessionLinkDone, b.UPN+"\n"+b.Company)
		redirect(w, r, "/onboarding/m/done")
		return
	}
	n, ok := problem(err)
	if !ok {
		h.fail(w, r, "finish monitor sign-in", err)
		return
	}
	h.flash(ctx, "link", *n)
	redirect(w, r, "/onboarding/m/signin")
}

const sessionLinkDone = "link.done"

// showLinkDone is GET /onboarding/m/done, once after a Copy URL sign-in.
func (h *handler) showLinkDone(w http.ResponseWriter, r *http.Request) {
	upn, company, ok := strings.Cut(h.sessions.PopString(r.Context(), sessionLinkDone), "\n")
	if !ok {
		h.message(w, r, http.StatusOK, "Nothing more to do", done("This sign-in is finished.", "You can close this page."))
		return
	}
	h.render(w, r, http.StatusOK, templates.OnboardingMonitorDone(upn, company))
}

// showLinkSignIn is GET /onboarding/m/signin: the Copy URL's sign-in page
// again, with what stopped the last attempt.
func (h *handler) showLinkSignIn(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	b, ok := h.linkBinding(ctx)
	if !ok {
		h.noLinkOpen(w, r)
		return
	}
	_, n := h.popFlash(ctx)
	h.render(w, r, http.StatusOK, templates.OnboardingMonitorLink(templates.MonitorLinkView{
		CSRF: h.csrf.Token(ctx), UPN: b.UPN, Company: b.Company, Problem: n}))
}

func (h *handler) noLinkOpen(w http.ResponseWriter, r *http.Request) {
	h.message(w, r, http.StatusForbidden, "Open your Copy URL", templates.Notice{
		Title: "This browser has no monitor sign-in in progress.", Detail: "Open the link you were sent again."})
}
