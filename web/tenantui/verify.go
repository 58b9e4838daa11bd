package tenantui

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"presencebridge/internal/verify"
	"presencebridge/templates"
)

// verifyRoutes are Verify configuration's, under Base+"/verify".
func (h *handler) verifyRoutes(r chi.Router) {
	r.Get("/", h.verifyPage)
	r.Post("/", h.runVerify)
}

func (h *handler) verifyPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, templates.TenantVerify(h.frame(r, "verify"), templates.TenantVerifyView{}))
}

// runVerify runs every check and shows them. It acts — it refreshes each
// monitor's sign-in and sends each webhook a test event — so it is a POST
// and audited, and a viewer who may only look cannot run it. The answer is
// the report itself: a reload runs the checks again, which is what a
// reload of a diagnosis should do.
func (h *handler) runVerify(w http.ResponseWriter, r *http.Request) {
	if h.readOnly(w, r) {
		return
	}
	v := h.Viewer(r)
	if h.Verify == nil {
		h.render(w, r, http.StatusServiceUnavailable, templates.TenantMessage(h.frame(r, "verify"), "Verify configuration",
			templates.Notice{Title: "The checks cannot run on this server.", Detail: "It has no access to Microsoft configured."}))
		return
	}
	rep, err := h.Verify.Run(r.Context(), v.TenantID)
	if err != nil {
		h.fail(w, r, "verify", err)
		return
	}
	results := map[string]int{}
	for _, c := range rep.Checks {
		results[string(c.Result)]++
	}
	if err := h.Store.Audit(r.Context(), &v.TenantID, v.Actor, "tenant.verified", map[string]any{"results": results}); err != nil {
		h.fail(w, r, "audit verify", err)
		return
	}
	view := templates.TenantVerifyView{Ran: true, At: rep.At.UTC().Format("2 Jan 2006 15:04:05 UTC"),
		Took: rep.Took.Round(10 * time.Millisecond).String(), Failed: rep.Failed()}
	for _, c := range rep.Checks {
		view.Checks = append(view.Checks, templates.VerifyCheck{Name: c.Name, Result: string(c.Result), Detail: c.Detail,
			Sentence: c.Fix.Sentence, URL: c.Fix.URL, Action: h.fixAction(v.Base, c.Fix)})
	}
	h.render(w, r, http.StatusOK, templates.TenantVerify(h.frame(r, "verify"), view))
}

// fixAction is the button of the page that already makes fix, if any.
func (h *handler) fixAction(base string, fix verify.Fix) *templates.VerifyAction {
	switch fix.Kind {
	case verify.FixMonitorLink:
		return &templates.VerifyAction{Path: base + "/monitors/" + fix.MonitorID.String() + "/link", Label: "Copy URL"}
	case verify.FixRenewMonitor:
		return &templates.VerifyAction{Path: base + "/monitors/" + fix.MonitorID.String() + "/renew", Label: "Renew"}
	case verify.FixEnableEndpoint:
		return &templates.VerifyAction{Path: base + "/integration/webhooks/" + fix.EndpointID.String() + "/enable", Label: "Enable"}
	case verify.FixSyncAll:
		return &templates.VerifyAction{Path: base + "/users/sync", Label: "Sync all"}
	}
	return nil
}
