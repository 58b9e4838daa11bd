package tenantui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/onboarding"
	"presencebridge/internal/store"
	"presencebridge/internal/tenantview"
	"presencebridge/templates"
)

// MonitorDeps are what the Monitors pages need from the surface beyond
// Deps.
type MonitorDeps struct {
	// PerMonitor is how many users one monitor covers in this
	// deployment: graphapi.MaxPresenceIDs minus the headroom, as the
	// engine fills them (0: graphapi.MaxPresenceIDs).
	PerMonitor int
	// SignIn runs "Authorize now" in the viewer's browser; nil: not
	// offered (Copy URL still is).
	SignIn MonitorSignIn
}

// MonitorSignIn is a surface's "Authorize now" (web/onboarding's
// MonitorSignIns for the portal).
type MonitorSignIn interface {
	// Start sends the browser to Microsoft to sign the monitor in, coming
	// back to back; what stops it goes to onProblem.
	Start(w http.ResponseWriter, r *http.Request, tenantID, monitorID uuid.UUID, actor, back string, onProblem func(*templates.Notice))
	// Outcome is what the last sign-in that came back said, once.
	Outcome(ctx context.Context) *templates.Notice
}

// monitorsShown is the session key (Deps.Flash) of what the Monitors page
// shows once.
const monitorsShown = "tenantui.monitors"

// shown is a notice and a new Copy URL, shown once after a redirect.
type shown struct {
	Notice  *templates.Notice `json:"n,omitempty"`
	Monitor uuid.UUID         `json:"m,omitempty"`
	Link    string            `json:"l,omitempty"`
	Expires time.Time         `json:"e"`
}

// usersPage is how many of a monitor's users a page lists.
const usersPage = 100

func (h *handler) monitorRoutes(r chi.Router) {
	r.Get("/", h.monitors)
	r.Post("/", h.addMonitor)
	r.Get("/{id}/users", h.monitorUsers)
	r.Post("/{id}/authorize", h.authorizeMonitor)
	r.Post("/{id}/link", h.monitorLink)
	r.Post("/{id}/retry", h.monitorAction("retry monitor", h.Onboarding.RetryMonitor,
		"Copy URLs sent earlier no longer work.", "Sign it in with Authorize now or a new Copy URL."))
	r.Post("/{id}/renew", h.monitorAction("renew monitor", h.Onboarding.RenewMonitor,
		"Renewal asked for.", "Presence Bridge renews its subscription at Microsoft on its next pass, within a minute."))
	r.Post("/{id}/delete", h.monitorAction("delete monitor", h.Onboarding.DeleteMonitor,
		"The monitor was deleted.", "Its stored sign-in was erased; its users move to the other monitors."))
}

func (h *handler) monitorsPath(r *http.Request) string { return h.Viewer(r).Base + "/monitors/" }

// monitors is the Monitors page.
func (h *handler) monitors(w http.ResponseWriter, r *http.Request) {
	h.renderMonitors(w, r, http.StatusOK, h.popShown(r.Context()), nil)
}

// renderMonitors renders the page with what is shown once and, when the
// add form was refused, its input and message.
func (h *handler) renderMonitors(w http.ResponseWriter, r *http.Request, status int, once shown, add *templates.MonitorAdd) {
	v := h.Viewer(r)
	ms, err := h.Views.Monitors(r.Context(), v.TenantID, h.Monitors.PerMonitor)
	if err != nil {
		h.fail(w, r, "read monitors", err)
		return
	}
	view := monitorsView(ms, h.Monitors.SignIn != nil)
	view.Notice = once.Notice
	if h.Monitors.SignIn != nil && once.Notice == nil {
		view.Notice = h.Monitors.SignIn.Outcome(r.Context())
	}
	if add != nil {
		view.Add = *add
	}
	for i := range view.Items {
		if once.Link != "" && view.Items[i].ID == once.Monitor.String() {
			view.Items[i].Link = &templates.CopyLink{URL: once.Link, Expires: once.Expires.UTC().Format("2 January 2006, 15:04 UTC")}
		}
	}
	h.render(w, r, status, templates.TenantMonitors(h.frame(r, "monitors"), view))
}

// addMonitor is POST /monitors/: a monitor account to sign in.
func (h *handler) addMonitor(w http.ResponseWriter, r *http.Request) {
	if h.readOnly(w, r) {
		return
	}
	v := h.Viewer(r)
	upn := strings.TrimSpace(r.PostFormValue("upn"))
	m, err := h.Onboarding.AddMonitor(r.Context(), v.TenantID, upn, v.Actor)
	var fe onboarding.FieldErrors
	if errors.As(err, &fe) {
		h.renderMonitors(w, r, http.StatusUnprocessableEntity, shown{}, &templates.MonitorAdd{UPN: upn, Error: fe["upn"]})
		return
	}
	if err != nil {
		h.fail(w, r, "add monitor", err)
		return
	}
	h.showOnce(w, r, shown{Notice: &templates.Notice{OK: true, Title: m.UPN + " was added.",
		Detail: "Sign it in with Authorize now, or send its Copy URL to whoever holds its password."}})
}

// authorizeMonitor is POST /monitors/{id}/authorize ("Authorize now"):
// the monitor signs in, in this browser, and comes back here.
func (h *handler) authorizeMonitor(w http.ResponseWriter, r *http.Request) {
	id, ok := h.monitorRequest(w, r)
	if !ok {
		return
	}
	if h.Monitors.SignIn == nil {
		http.NotFound(w, r)
		return
	}
	v := h.Viewer(r)
	h.Monitors.SignIn.Start(w, r, v.TenantID, id, v.Actor, h.monitorsPath(r), func(n *templates.Notice) {
		h.showOnce(w, r, shown{Notice: n})
	})
}

// monitorLink is POST /monitors/{id}/link ("Copy URL"): a new link, the
// earlier ones withdrawn, shown once on the page the browser is sent
// back to (never in an address).
func (h *handler) monitorLink(w http.ResponseWriter, r *http.Request) {
	id, ok := h.monitorRequest(w, r)
	if !ok {
		return
	}
	v := h.Viewer(r)
	link, exp, err := h.Onboarding.IssueMonitorLink(r.Context(), v.TenantID, id, v.Actor)
	if errors.Is(err, store.ErrMonitorNotFound) {
		h.monitorGone(w, r)
		return
	}
	if err != nil {
		h.fail(w, r, "monitor link", err)
		return
	}
	h.showOnce(w, r, shown{Monitor: id, Link: link, Expires: exp})
}

// monitorAction is a POST that changes the monitor in the path, then
// shows the Monitors page with title and detail (or the service's
// Problem).
func (h *handler) monitorAction(what string, change func(ctx context.Context, tenantID, monitorID uuid.UUID, actor string) error,
	title, detail string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := h.monitorRequest(w, r)
		if !ok {
			return
		}
		v := h.Viewer(r)
		err := change(r.Context(), v.TenantID, id, v.Actor)
		var p *onboarding.Problem
		switch {
		case errors.Is(err, store.ErrMonitorNotFound):
			h.monitorGone(w, r)
		case errors.As(err, &p):
			h.showOnce(w, r, shown{Notice: &templates.Notice{Title: p.Title, Detail: p.Detail}})
		case err != nil:
			h.fail(w, r, what, err)
		default:
			h.showOnce(w, r, shown{Notice: &templates.Notice{OK: true, Title: title, Detail: detail}})
		}
	}
}

// monitorRequest refuses a viewer who may not change anything and reads
// the monitor id in the path; when it returns false it has answered.
func (h *handler) monitorRequest(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	if h.readOnly(w, r) {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		h.monitorGone(w, r)
		return id, false
	}
	return id, true
}

func (h *handler) monitorGone(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusNotFound, templates.TenantMessage(h.frame(r, "monitors"), "Monitor not found", templates.Notice{
		Title: "This tenant has no such monitor.", Detail: "It may have been deleted. Go back to Monitors and reload the page."}))
}

// showOnce keeps s for the next view of the Monitors page and sends the
// browser there (303: a reload does not send the form again).
func (h *handler) showOnce(w http.ResponseWriter, r *http.Request, s shown) {
	if err := h.keepOnce(r.Context(), monitorsShown, s); err != nil {
		h.fail(w, r, "keep what to show once", err)
		return
	}
	http.Redirect(w, r, h.monitorsPath(r), http.StatusSeeOther)
}

func (h *handler) popShown(ctx context.Context) shown {
	var s shown
	h.takeOnce(ctx, monitorsShown, &s)
	return s
}

// monitorUsers is GET /monitors/{id}/users: the users a monitor covers,
// a page at a time in UPN order (?after= the last UPN of the page before).
func (h *handler) monitorUsers(w http.ResponseWriter, r *http.Request) {
	v := h.Viewer(r)
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		h.monitorGone(w, r)
		return
	}
	ctx := r.Context()
	m, err := h.Store.GetMonitor(ctx, v.TenantID, id)
	if errors.Is(err, store.ErrMonitorNotFound) {
		h.monitorGone(w, r)
		return
	}
	if err != nil {
		h.fail(w, r, "read monitor", err)
		return
	}
	after := strings.ToLower(r.URL.Query().Get("after"))
	users, err := h.Store.MonitorUsersPage(ctx, v.TenantID, id, after, usersPage+1)
	if err != nil {
		h.fail(w, r, "read monitor users", err)
		return
	}
	loads, err := h.Store.MonitorLoads(ctx, v.TenantID)
	if err != nil {
		h.fail(w, r, "read monitor loads", err)
		return
	}
	view := templates.MonitorUsersView{ID: id.String(), UPN: m.UPN, Total: loads[id], First: after == ""}
	if len(users) > usersPage {
		users = users[:usersPage]
		view.Next = "?after=" + url.QueryEscape(strings.ToLower(users[len(users)-1].UPN))
	}
	for _, u := range users {
		view.Users = append(view.Users, templates.MonitorUser{UPN: u.UPN, DisplayName: u.DisplayName})
	}
	h.render(w, r, http.StatusOK, templates.TenantMonitorUsers(h.frame(r, "monitors"), view))
}

// monitorsView turns the tenant's monitors into the page's view.
func monitorsView(ms tenantview.Monitors, signIn bool) templates.TenantMonitorsView {
	c := ms.Capacity
	v := templates.TenantMonitorsView{SignIn: signIn, Capacity: templates.MonitorCapacity{Users: c.Users, PerMonitor: c.PerMonitor,
		Needed: c.Needed, Authorized: c.Authorized, More: c.More}}
	for _, m := range ms.Items {
		item := templates.TenantMonitor{ID: m.ID.String(), UPN: m.UPN, Status: m.Status, Label: statusWords(m.Status),
			Reason: m.Reason(), Users: m.Users, Capacity: m.Capacity, Tried: m.Status != store.MonitorPending || m.LastError != ""}
		if m.Status == store.MonitorAuthorized {
			item.DisplayName = m.DisplayName
		}
		s := m.Subscription
		switch {
		case m.Status != store.MonitorAuthorized: // its subscription goes with it
		case m.HasSubscription && s.Active && s.RenewRequestedAt != nil:
			item.CanRenew = true
			item.Renewal = "Renewal asked for at " + clock(*s.RenewRequestedAt) + ": Presence Bridge renews it on its next pass, within a minute."
		case m.HasSubscription && s.Active && s.ExpiresAt != nil:
			item.CanRenew = true
			item.Renewal = "Its subscription runs until " + clock(*s.ExpiresAt) + " and is renewed before then"
			if s.RenewedAt != nil {
				item.Renewal += "; last renewed at " + clock(*s.RenewedAt)
			}
			item.Renewal += "."
		}
		v.Items = append(v.Items, item)
	}
	return v
}

// statusWords is how the pages name a monitor's status.
func statusWords(status string) string {
	switch status {
	case store.MonitorAuthorized:
		return "Authorized"
	case store.MonitorPending:
		return "Not authorized"
	case store.MonitorNeedsUpdate:
		return "Needs update"
	case store.MonitorNeedsReauth:
		return "Needs re-authorization"
	case store.MonitorDisabled:
		return "Turned off"
	}
	return status
}

func clock(t time.Time) string { return t.UTC().Format("2 Jan 15:04 UTC") }
