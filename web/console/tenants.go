package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/english"
	"presencebridge/internal/staff"
	"presencebridge/internal/store"
	"presencebridge/templates"
	"presencebridge/web/tenantui"
)

// tenantsPage is how many tenants the list shows at once.
const tenantsPage = 50

// tenantOrders are the list's orders as the page offers them: the value
// of ?sort= ("-" first reverses), and its label.
var tenantOrders = []templates.Option{
	{Value: "name", Label: "Name, A to Z"},
	{Value: "-name", Label: "Name, Z to A"},
	{Value: "status", Label: "Status, needing support first"},
	{Value: "-status", Label: "Status, deleted first"},
	{Value: "last", Label: "Last notification, quietest first"},
	{Value: "-last", Label: "Last notification, latest first"},
}

// tenants is GET /console/: every tenant with its figures, searchable by
// name, domain or admin e-mail, in the order of ?sort=, a page at a time
// (?after= is a page's cursor).
func (h *handler) tenants(w http.ResponseWriter, r *http.Request) {
	search, order := r.URL.Query().Get("q"), r.URL.Query().Get("sort")
	q := store.TenantListQuery{Search: search, Sort: store.ParseTenantSort(strings.TrimPrefix(order, "-")),
		Desc: strings.HasPrefix(order, "-"), Limit: tenantsPage}
	order = string(q.Sort)
	if q.Desc {
		order = "-" + order
	}
	first := Prefix + "/?" + url.Values{"q": {search}, "sort": {order}}.Encode()
	if after := r.URL.Query().Get("after"); after != "" {
		var c store.TenantCursor
		if !decodeCursor(after, &c) {
			http.Redirect(w, r, first, http.StatusSeeOther)
			return
		}
		q.After = &c
	}
	page, more, err := h.Store.TenantList(r.Context(), q)
	if err != nil {
		h.fail(w, r, "tenant list", err)
		return
	}
	v := templates.ConsoleTenantsView{Search: search, Sort: order, Orders: tenantOrders}
	now := h.Now()
	for _, t := range page {
		v.Tenants = append(v.Tenants, tenantRow(t, now))
	}
	if more {
		v.Next = first + "&" + url.Values{"after": {encodeCursor(page[len(page)-1].Cursor(q.Sort))}}.Encode()
	}
	if q.After != nil {
		v.First = first
	}
	h.render(w, r, http.StatusOK, templates.ConsoleTenants(h.frame(r, "tenants"), v))
}

// tenantRow is a tenant of the list in words.
func tenantRow(t store.TenantListItem, now time.Time) templates.ConsoleTenant {
	row := templates.ConsoleTenant{Name: t.Name, URL: tenantBase(t.ID) + "/", Domain: t.MSDomain, AdminEmail: t.AdminEmail,
		Status: t.Status, Monitored: t.Monitored, Unmonitored: t.Unmonitored, MonitorsNeedingAction: t.MonitorsNeedingAction,
		OpenAlerts: t.OpenAlerts, LastNotification: "never"}
	if t.Status == store.TenantActive && t.Health == store.HealthDegraded {
		row.Status = store.TenantDegraded
	}
	if t.LastNotificationAt != nil {
		row.LastNotification = ago(now, *t.LastNotificationAt)
	}
	row.Dead, row.Pending = backlogCount(t.DeadDeliveries), backlogCount(t.PendingDeliveries)
	return row
}

// backlogCount is a delivery count of the list, which counts up to
// store.BacklogCountCap.
func backlogCount(n int) string {
	if n >= store.BacklogCountCap {
		return strconv.Itoa(store.BacklogCountCap) + "+"
	}
	return strconv.Itoa(n)
}

// ago says how long before now t was, in the largest whole unit.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return english.Count(int(d/time.Minute), "minute", "minutes") + " ago"
	case d < 48*time.Hour:
		return english.Count(int(d/time.Hour), "hour", "hours") + " ago"
	}
	return english.Count(int(d/(24*time.Hour)), "day", "days") + " ago"
}

// tenantBase is where a tenant's pages are in the console.
func tenantBase(id uuid.UUID) string { return Prefix + "/tenants/" + id.String() }

type tenantKey struct{}

// tenantRoutes mounts the tenant pages (web/tenantui) for any tenant at
// /console/tenants/{tenantID}/…, for every signed-in account to look at
// and for support and admins to act on, beside the console's own
// Support section (tenant_admin.go).
func (h *handler) tenantRoutes(r chi.Router) {
	d := h.Pages
	d.Store, d.Views, d.Viewer, d.CSRFToken, d.RequireFresh, d.Logger = h.Store, h.Views, h.viewer, h.csrf.Token, h.requireFresh, h.Logger
	if d.Now == nil {
		d.Now = h.Now
	}
	d.Flash = h.Sessions
	pages := tenantui.Routes(d)
	r.Route("/tenants/{tenantID}", func(r chi.Router) {
		r.Use(h.tenantExists, changesNeed(staff.Support, h))
		pages(r)
		r.Route("/support", h.supportRoutes)
	})
}

// tenantExists puts the tenant of the path in the request's context, or
// answers 404.
func (h *handler) tenantExists(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := uuid.Parse(chi.URLParam(r, "tenantID"))
		if err == nil {
			_, err = h.Store.GetTenant(r.Context(), id)
		}
		// A path that is no tenant id, or no tenant's, is not found alike.
		if errors.Is(err, store.ErrTenantNotFound) || err != nil && id == uuid.Nil {
			h.render(w, r, http.StatusNotFound, templates.ConsoleMessage(h.frame(r, "tenants"), "No such tenant", templates.Notice{
				Title: "There is no tenant at this address.", Detail: "Find it in the list of tenants."}))
			return
		}
		if err != nil {
			h.fail(w, r, "get tenant", err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tenantKey{}, id)))
	})
}

// viewer is the signed-in account as the tenant pages know it: it may
// change the tenant when its role is support or above.
func (h *handler) viewer(r *http.Request) tenantui.Viewer {
	m := memberOf(r.Context())
	id, _ := r.Context().Value(tenantKey{}).(uuid.UUID)
	return tenantui.Viewer{TenantID: id, Actor: staff.Actor(m.Email), Name: m.Email, Base: tenantBase(id),
		SignOut: Prefix + "/signout", CanChange: m.Role.AtLeast(staff.Support), Back: Prefix + "/", BackLabel: "All tenants",
		More: []templates.TenantSection{{Key: "support", Path: "/support", Label: "Support"}}}
}
