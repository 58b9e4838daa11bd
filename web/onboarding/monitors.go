package onboarding

import (
	"context"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/identity"
	"presencebridge/internal/onboarding"
	"presencebridge/internal/store"
	"presencebridge/templates"
)

const monitorsAnchor = "/onboarding#step-monitors"

// addMonitor is POST /onboarding/monitors.
func (h *handler) addMonitor(w http.ResponseWriter, r *http.Request) {
	tenantID, ok := h.requireTenant(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	upn := trimmed(r, "upn")
	m, err := h.svc.AddMonitor(ctx, tenantID, upn, h.actor(ctx, tenantID))
	var fe onboarding.FieldErrors
	if errors.As(err, &fe) {
		h.renderWith(w, r, tenantID, http.StatusUnprocessableEntity, func(v *templates.OnboardingView) {
			v.Monitors.AddUPN, v.Monitors.AddError = upn, fe["upn"]
		})
		return
	}
	if err != nil {
		h.fail(w, r, "add monitor", err)
		return
	}
	h.flash(ctx, "monitors", done(m.UPN+" was added.", "Sign it in with Authorize now, or send its Copy URL to whoever holds its password."))
	redirect(w, r, monitorsAnchor)
}

// renderWith renders the onboarding page with changes made by edit (a
// message beside a field, a Copy URL).
func (h *handler) renderWith(w http.ResponseWriter, r *http.Request, tenantID uuid.UUID, status int, edit func(*templates.OnboardingView)) {
	st, err := h.svc.Status(r.Context(), tenantID)
	if err != nil {
		h.fail(w, r, "read status", err)
		return
	}
	v, err := h.view(r.Context(), st)
	if err != nil {
		h.fail(w, r, "build page", err)
		return
	}
	edit(&v)
	h.render(w, r, status, templates.OnboardingPage(v))
}

// authorizeMonitor is POST /onboarding/monitors/{id}/authorize ("Authorize
// now"): PKCE verifier and nonce stay in the session under a fresh state;
// the browser goes to Microsoft with the monitor as login hint.
func (h *handler) authorizeMonitor(w http.ResponseWriter, r *http.Request) {
	tenantID, id, ok := h.monitorRequest(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	h.startMonitorSignIn(w, r, pending{Kind: kindMonitor, Tenant: tenantID, Monitor: id, Actor: h.actor(ctx, tenantID)},
		func(n *templates.Notice) {
			h.flash(ctx, "monitors", *n)
			redirect(w, r, monitorsAnchor)
		})
}

// startMonitorSignIn sends the browser to Microsoft for p's monitor.
// onProblem tells the person what stopped it.
func (h *handler) startMonitorSignIn(w http.ResponseWriter, r *http.Request, p pending, onProblem func(*templates.Notice)) {
	ctx := r.Context()
	p.State = newState()
	si, err := h.svc.StartMonitorSignIn(ctx, p.Tenant, p.Monitor, p.State)
	if errors.Is(err, store.ErrMonitorNotFound) {
		h.monitorNotFound(w, r)
		return
	}
	if n, ok := problem(err); ok {
		onProblem(n)
		return
	}
	if err != nil {
		h.fail(w, r, "start monitor sign-in", err)
		return
	}
	p.Expires, p.Verifier, p.Nonce = h.now().Add(stateTTL), si.Verifier, si.Nonce
	h.remember(ctx, p)
	redirect(w, r, si.URL)
}

// monitorCallback is GET /onboarding/monitors/callback, for "Authorize
// now" and Copy URL sign-ins alike: the session's pending sign-in says
// which monitor and who started it. A consent to a tenant's own app given
// from an alert's link comes back here too (reconsentReturned).
func (h *handler) monitorCallback(w http.ResponseWriter, r *http.Request) {
	if h.reconsentReturned(w, r) {
		return
	}
	ctx := r.Context()
	q := r.URL.Query()
	p, err := h.take(ctx, kindMonitor, q.Get("state"))
	if err != nil {
		h.stateRefused(w, r, err)
		return
	}
	err = h.svc.FinishMonitorSignIn(ctx, p.Tenant, p.Monitor, q, identity.SignIn{Verifier: p.Verifier, Nonce: p.Nonce}, p.Actor)
	if p.Return != "" {
		h.returnSignIn(w, r, p, err)
		return
	}
	if p.ViaLink {
		h.linkSignInDone(w, r, p, err)
		return
	}
	if errors.Is(err, store.ErrMonitorNotFound) {
		h.monitorNotFound(w, r)
		return
	}
	if n, ok := problem(err); ok {
		h.flash(ctx, "monitors", *n)
		redirect(w, r, monitorsAnchor)
		return
	}
	if err != nil {
		h.fail(w, r, "finish monitor sign-in", err)
		return
	}
	h.setRenewing(ctx, p.Monitor, false)
	h.flash(ctx, "monitors", done("The monitor is authorized.", ""))
	redirect(w, r, monitorsAnchor)
}

// monitorLink is POST /onboarding/monitors/{id}/link ("Copy URL"): a new
// link that withdraws the monitor's earlier ones (IssueMonitorLink), shown
// once on the page the redirect leads to, with its expiry and a copy
// button. Only the session holds it until then, sealed.
func (h *handler) monitorLink(w http.ResponseWriter, r *http.Request) {
	tenantID, id, ok := h.monitorRequest(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	link, exp, err := h.svc.IssueMonitorLink(ctx, tenantID, id, h.actor(ctx, tenantID))
	if errors.Is(err, store.ErrMonitorNotFound) {
		h.monitorNotFound(w, r)
		return
	}
	if err != nil {
		h.fail(w, r, "monitor link", err)
		return
	}
	h.showThenRedirect(w, r, shown{Monitor: id.String(), Link: link, Expires: exp.UTC().Format("2 January 2006, 15:04 UTC")},
		"/onboarding#monitor-"+id.String())
}

// passwordSignIn is POST /onboarding/monitors/{id}/password ("Sign in with
// password once", when the tenant allows it). The password goes to the
// service and nowhere else: not into the page, the session or a log.
func (h *handler) passwordSignIn(w http.ResponseWriter, r *http.Request) {
	tenantID, id, ok := h.monitorRequest(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	err := h.svc.PasswordSignIn(ctx, tenantID, id, r.PostFormValue("password"), h.actor(ctx, tenantID))
	r.PostForm.Del("password")
	r.Form.Del("password")
	if errors.Is(err, store.ErrMonitorNotFound) {
		h.monitorNotFound(w, r)
		return
	}
	var fe onboarding.FieldErrors
	if errors.As(err, &fe) {
		h.renderWith(w, r, tenantID, http.StatusUnprocessableEntity, func(v *templates.OnboardingView) {
			if m := monitorItem(v, id); m != nil {
				m.Password = fe["password"]
			}
		})
		return
	}
	if n, ok := problem(err); ok {
		h.renderWith(w, r, tenantID, http.StatusUnprocessableEntity, func(v *templates.OnboardingView) {
			m := monitorItem(v, id)
			switch {
			case m == nil:
			case v.Monitors.PasswordAllowed && m.SignIn:
				m.Password = n.Title + " " + n.Detail
			default:
				m.Problem = n
			}
		})
		return
	}
	if err != nil {
		h.fail(w, r, "password sign-in", err)
		return
	}
	h.setRenewing(ctx, id, false)
	h.flash(ctx, "monitors", done("The monitor is authorized.", "Its password was used once and not kept."))
	redirect(w, r, monitorsAnchor)
}

// retryMonitor is POST /onboarding/monitors/{id}/retry (Retry, or Renew
// for an authorized monitor): Copy URLs sent earlier stop working, and the
// monitor can be signed in afresh.
func (h *handler) retryMonitor(w http.ResponseWriter, r *http.Request) {
	h.changeMonitor(w, r, "retry monitor", h.svc.RetryMonitor, true,
		done("Earlier Copy URLs for this monitor no longer work.", "Sign it in again with Authorize now or a new Copy URL."))
}

// deleteMonitor is POST /onboarding/monitors/{id}/delete.
func (h *handler) deleteMonitor(w http.ResponseWriter, r *http.Request) {
	h.changeMonitor(w, r, "delete monitor", h.svc.DeleteMonitor, false,
		done("The monitor was deleted.", "Its stored sign-in was erased."))
}

// changeMonitor runs a change to the monitor in the path and goes back to
// the monitors with n; renewing says whether the row then offers sign-in.
func (h *handler) changeMonitor(w http.ResponseWriter, r *http.Request, what string,
	change func(ctx context.Context, tenantID, monitorID uuid.UUID, actor string) error, renewing bool, n templates.Notice) {
	tenantID, id, ok := h.monitorRequest(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	err := change(ctx, tenantID, id, h.actor(ctx, tenantID))
	if errors.Is(err, store.ErrMonitorNotFound) {
		h.monitorNotFound(w, r)
		return
	}
	if err != nil {
		h.fail(w, r, what, err)
		return
	}
	h.setRenewing(ctx, id, renewing)
	h.flash(ctx, "monitors", n)
	redirect(w, r, monitorsAnchor)
}

// monitorRequest reads the session's tenant and the monitor in the path;
// when it returns false it has answered.
func (h *handler) monitorRequest(w http.ResponseWriter, r *http.Request) (tenantID, monitorID uuid.UUID, ok bool) {
	if tenantID, ok = h.requireTenant(w, r); !ok {
		return
	}
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		h.monitorNotFound(w, r)
		return tenantID, id, false
	}
	return tenantID, id, true
}
