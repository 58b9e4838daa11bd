package console

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/staff"
	"presencebridge/internal/store"
	"presencebridge/templates"
	"presencebridge/web/tenantui"
)

// tenantsPage is how many tenants the list shows at once.
const tenantsPage = 50

// tenantCursor is the last tenant of a page: where the next one starts.
type tenantCursor struct {
	Name string    `json:"n"`
	ID   uuid.UUID `json:"i"`
}

// tenants is GET /console/: every tenant, searchable by name, domain or
// admin e-mail, a page at a time (?after= is a page's cursor).
func (h *handler) tenants(w http.ResponseWriter, r *http.Request) {
	search := r.URL.Query().Get("q")
	q := store.TenantListQuery{Search: search, Limit: tenantsPage}
	if after := r.URL.Query().Get("after"); after != "" {
		var c tenantCursor
		b, err := base64.RawURLEncoding.DecodeString(after)
		if err != nil || json.Unmarshal(b, &c) != nil {
			http.Redirect(w, r, Prefix+"/?q="+url.QueryEscape(search), http.StatusSeeOther)
			return
		}
		q.AfterName, q.AfterID = c.Name, c.ID
	}
	page, more, err := h.Store.TenantList(r.Context(), q)
	if err != nil {
		h.fail(w, r, "tenant list", err)
		return
	}
	v := templates.ConsoleTenantsView{Search: search}
	for _, t := range page {
		v.Tenants = append(v.Tenants, templates.ConsoleTenant{Name: t.Name, URL: tenantBase(t.ID) + "/", Domain: t.MSDomain,
			AdminEmail: t.AdminEmail, Status: t.Status, Health: t.Health})
	}
	if more {
		last := page[len(page)-1]
		b, _ := json.Marshal(tenantCursor{Name: last.Name, ID: last.ID})
		v.Next = Prefix + "/?" + url.Values{"q": {search}, "after": {base64.RawURLEncoding.EncodeToString(b)}}.Encode()
	}
	if q.AfterID != uuid.Nil {
		v.First = Prefix + "/?" + url.Values{"q": {search}}.Encode()
	}
	h.render(w, r, http.StatusOK, templates.ConsoleTenants(h.frame(r, "tenants"), v))
}

// tenantBase is where a tenant's pages are in the console.
func tenantBase(id uuid.UUID) string { return Prefix + "/tenants/" + id.String() }

type tenantKey struct{}

// tenantRoutes mounts the tenant pages (web/tenantui) for any tenant at
// /console/tenants/{tenantID}/…, for every signed-in account to look at
// and for support and admins to act on.
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
		SignOut: Prefix + "/signout", CanChange: m.Role.AtLeast(staff.Support), Back: Prefix + "/", BackLabel: "All tenants"}
}
