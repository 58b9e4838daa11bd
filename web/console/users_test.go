package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"presencebridge/internal/staff"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
	"presencebridge/web/console"
)

// An address on two tenants' rosters (Contoso's as its mail, Fabrikam's as
// its UPN) is found in both, each match with its tenant's status and the
// roster's state, in the order of the tenants' names, and leads to the user's page in that tenant; an address
// on one roster opens the user's page at once; a viewer may look, and each
// lookup is audited.
func TestUserLookupFindsAnAddressInEveryTenantAndOneMatchOpensTheUsersPage(t *testing.T) {
	s := newSite(t, console.Limits{})
	pool := s.Store.Pool()
	fabrikam := storetest.Tenant(t, pool, "Fabrikam")
	testkit.Exec(t, pool, `UPDATE tenants SET status = 'active', health = 'degraded' WHERE id = $1`, fabrikam)
	testkit.Exec(t, pool, `INSERT INTO directory_users (tenant_id, upn, graph_upn, email, display_name, object_id, resolution_status)
		VALUES ($1, 'pat.lee@contoso.example', 'pat.lee@contoso.example', 'pat@shared.example', 'Pat Lee', gen_random_uuid(), 'resolved'),
		       ($1, 'sam@contoso.example', NULL, NULL, '', NULL, 'pending'),
		       ($2, 'pat@shared.example', NULL, NULL, '', NULL, 'not_found')`, s.Tenant, fabrikam)
	s.add("look@vendor.example", staff.Viewer)
	b := s.browser()
	b.signIn("look@vendor.example")

	p := b.Get("/console/users?" + url.Values{"q": {" PAT@shared.example "}}.Encode())
	if p.Status != http.StatusOK {
		t.Fatalf("lookup: %d\n%s", p.Status, p.Text())
	}
	rows := regexp.MustCompile(`(?s)<li class="user-match">.*?</li>`).FindAllString(p.Body, -1)
	if len(rows) != 2 {
		t.Fatalf("%d matches, want 2:\n%s", len(rows), p.Text())
	}
	contoso := "/console/tenants/" + s.Tenant.String()
	for i, want := range [][]string{
		{`href="` + contoso + `/users/u/pat.lee@contoso.example"`, `badge bad">unmonitored: no monitor with room<`, `Pat Lee`,
			`pat@shared.example`, `href="` + contoso + `/"`, `>Contoso</a>`, `badge pending tenant-status">onboarding<`},
		{`href="/console/tenants/` + fabrikam.String() + `/users/u/pat@shared.example"`, `badge bad">not found<`, `>Fabrikam</a>`,
			`badge bad tenant-status">degraded<`},
	} {
		for _, part := range want {
			if !strings.Contains(rows[i], part) {
				t.Errorf("match %d lacks %s:\n%s", i+1, part, rows[i])
			}
		}
	}
	if p := b.Get(contoso + "/users/u/pat.lee@contoso.example"); p.Status != http.StatusOK || !strings.Contains(p.Text(), "Pat Lee") {
		t.Errorf("Contoso's match's page: %d\n%s", p.Status, p.Text())
	}

	if p := b.Get("/console/users?q=sam@contoso.example"); p.Status != http.StatusSeeOther || p.Location != contoso+"/users/u/sam@contoso.example" {
		t.Errorf("a single match: %d to %q, want its page", p.Status, p.Location)
	}
	if p := b.Get("/console/users?q=nobody@contoso.example"); p.Status != http.StatusOK ||
		!strings.Contains(p.Text(), "No tenant has nobody@contoso.example on its roster.") {
		t.Errorf("no match: %d\n%s", p.Status, p.Text())
	}
	if p := b.Get("/console/users"); p.Status != http.StatusOK || strings.Contains(p.Body, "no-users") || !strings.Contains(p.Body, `id="user-q"`) {
		t.Errorf("the form alone: %d\n%s", p.Status, p.Text())
	}
	if n := s.audited("staff:look@vendor.example", "staff.users_looked_up"); n != 3 {
		t.Errorf("%d lookups audited, want 3", n)
	}
	if p := s.browser().Get("/console/users?q=sam@contoso.example"); p.Status != http.StatusOK || !strings.Contains(p.Body, `id="sign-in"`) {
		t.Errorf("a lookup without signing in: %d, want the sign-in page", p.Status)
	}
}
