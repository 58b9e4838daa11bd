package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"presencebridge/internal/staff"
	"presencebridge/internal/store"
	"presencebridge/templates"
	"presencebridge/web/tenantui"
)

// lookupLimit is how many matches the user lookup shows: an address is on
// few rosters, so more means a question too wide to answer here.
const lookupLimit = 50

// lookUpUsers is GET /console/users?q=: the roster entries of every tenant
// whose UPN or e-mail address is q, each with its tenant; one match goes
// straight to the user's page (presence stored and live, mapped state,
// monitor and subscription, timeline), where support acts. Any role may
// look; each lookup is audited, as it reads a person's data across
// tenants.
func (h *handler) lookUpUsers(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	v := templates.ConsoleUsersView{Query: q}
	if q == "" {
		h.render(w, r, http.StatusOK, templates.ConsoleUsers(h.frame(r, "users"), v))
		return
	}
	found, err := h.Store.FindUsersAnywhere(ctx, q, lookupLimit)
	if err != nil {
		h.fail(w, r, "find users anywhere", err)
		return
	}
	if err := h.Store.Audit(ctx, nil, staff.Actor(memberOf(ctx).Email), "staff.users_looked_up",
		map[string]any{"q": q, "matches": len(found)}); err != nil {
		h.fail(w, r, "audit lookup", err)
		return
	}
	if len(found) == 1 {
		http.Redirect(w, r, userPage(found[0].TenantID, found[0].UPN), http.StatusSeeOther)
		return
	}
	v.Searched, v.Capped = true, len(found) == lookupLimit
	for _, m := range found {
		v.Matches = append(v.Matches, userMatch(m))
	}
	h.render(w, r, http.StatusOK, templates.ConsoleUsers(h.frame(r, "users"), v))
}

// userMatch is a match of the lookup as the page shows it.
func userMatch(m store.UserMatch) templates.ConsoleUserMatch {
	row := templates.ConsoleUserMatch{UPN: m.UPN, DisplayName: m.DisplayName, URL: userPage(m.TenantID, m.UPN),
		Tenant: m.TenantName, TenantURL: tenantBase(m.TenantID) + "/", TenantStatus: m.TenantStatus}
	row.State, row.Badge = tenantui.UserState(m.DirectoryUser)
	if m.Email != "" && !strings.EqualFold(m.Email, m.UPN) {
		row.Email = m.Email
	}
	if m.TenantStatus == store.TenantActive && m.TenantHealth == store.HealthDegraded {
		row.TenantStatus = store.TenantDegraded
	}
	return row
}

// userPage is where a roster entry's page is in the console: the tenant
// pages' user page (web/tenantui), by the UPN as entered.
func userPage(tenant uuid.UUID, upn string) string {
	return tenantBase(tenant) + "/users/u/" + url.PathEscape(upn)
}
