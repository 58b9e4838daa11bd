package console_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"presencebridge/internal/staff"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
	"presencebridge/web/console"
)

func TestAViewerSeesATenantsPagesWithoutActionsAndAForgedChangeIs403(t *testing.T) {
	s := newSite(t, console.Limits{})
	s.add("look@vendor.example", staff.Viewer)
	b := s.browser()
	b.signIn("look@vendor.example")
	base := "/console/tenants/" + s.Tenant.String()
	for _, section := range []string{"/", "/monitors/", "/users/", "/integration/", "/app/", "/admins/", "/audit/"} {
		if p := b.Get(base + section); p.Status != http.StatusOK || !strings.Contains(p.Text(), "Contoso") {
			t.Errorf("%s: %d\n%s", section, p.Status, p.Text())
		}
	}
	if p := b.Get(base + "/users/"); strings.Contains(p.Body, `id="add-users"`) {
		t.Error("the Users page offers a viewer its Add button")
	}
	// Forged with the session's own token, as a viewer could.
	p := b.Post(base+"/users/add", url.Values{"users": {"adele@contoso.example"}})
	if p.Status != http.StatusForbidden || !strings.Contains(p.Text(), "Your role (viewer) does not allow this.") {
		t.Fatalf("a viewer's forged add: %d\n%s", p.Status, p.Text())
	}
	var n int
	if err := s.Store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM directory_users`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d users on the roster (%v), want none", n, err)
	}
}

func TestSupportActsOnATenantAuditedAsTheStaffMember(t *testing.T) {
	s := newSite(t, console.Limits{})
	s.add("help@vendor.example", staff.Support)
	b := s.browser()
	b.signIn("help@vendor.example")
	base := "/console/tenants/" + s.Tenant.String()
	b.Get(base + "/users/")
	if p := b.Post(base+"/users/add", url.Values{"users": {"adele@contoso.example"}}); p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, base+"/users/") {
		t.Fatalf("support adds a user: %d %s\n%s", p.Status, p.Location, p.Text())
	}
	var n int
	if err := s.Store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND actor = 'staff:help@vendor.example'`,
		s.Tenant).Scan(&n); err != nil || n == 0 {
		t.Errorf("the change is not audited as the staff member with the tenant (%d, %v)", n, err)
	}
	if p := b.Get(base + "/audit/"); !strings.Contains(p.Text(), "staff:help@vendor.example") {
		t.Errorf("the tenant's audit log does not show the staff member:\n%s", p.Text())
	}
}

// The tenant API authenticates API keys only: a console session, however
// privileged, is no key.
func TestAStaffSessionDoesNotReachATenantsAPI(t *testing.T) {
	s := newSite(t, console.Limits{})
	s.add("root@vendor.example", staff.Admin)
	b := s.browser()
	b.signIn("root@vendor.example")
	for _, path := range []string{"/api/v1/tenant", "/api/v1/users", "/api/v1/api-keys"} {
		if p := b.Get(path); p.Status != http.StatusUnauthorized {
			t.Errorf("GET %s with the console's session cookie: %d, want 401\n%s", path, p.Status, p.Body)
		}
	}
}

func TestOnlyAdminsSeeTheStaffList(t *testing.T) {
	s := newSite(t, console.Limits{})
	for _, a := range []struct {
		email string
		role  staff.Role
	}{{"look@vendor.example", staff.Viewer}, {"help@vendor.example", staff.Support}, {"root@vendor.example", staff.Admin}} {
		email, role := a.email, a.role
		s.add(email, role)
		b := s.browser()
		b.signIn(email)
		p := b.Get("/console/staff")
		want := http.StatusForbidden
		if role == staff.Admin {
			want = http.StatusOK
		}
		if p.Status != want {
			t.Errorf("%s (%s): %d, want %d", email, role, p.Status, want)
		}
		if role == staff.Admin && !strings.Contains(p.Text(), "help@vendor.example") {
			t.Errorf("the staff list:\n%s", p.Text())
		}
		if nav := strings.Contains(b.Get("/console/").Body, `id="nav-staff"`); nav != (role == staff.Admin) {
			t.Errorf("%s: Staff in the navigation %v", role, nav)
		}
	}
}

func TestTheTenantsListSearchesAndPagesAndAnUnknownTenantIsNotFound(t *testing.T) {
	s := newSite(t, console.Limits{})
	for i := range 60 {
		storetest.Tenant(t, s.Store.Pool(), fmt.Sprintf("Fabrikam %02d", i))
	}
	s.add("look@vendor.example", staff.Viewer)
	b := s.browser()
	b.signIn("look@vendor.example")
	p := b.Get("/console/?q=fabrikam")
	if strings.Count(p.Body, `class="user-upn"`) != 50 || strings.Contains(p.Text(), "Contoso") || !strings.Contains(p.Text(), "Fabrikam 49") {
		t.Fatalf("the first page of the search:\n%s", p.Text())
	}
	m := regexp.MustCompile(`<a href="([^"]+)" id="next-page"`).FindStringSubmatch(p.Body)
	if m == nil || !strings.HasPrefix(m[1], "/console/?") {
		t.Fatalf("no next page link:\n%s", p.Text())
	}
	next := unescapeAmp(m[1])
	p = b.Get(next)
	if strings.Count(p.Body, `class="user-upn"`) != 10 || !strings.Contains(p.Text(), "Fabrikam 59") || strings.Contains(p.Body, `id="next-page"`) {
		t.Fatalf("the second page:\n%s", p.Text())
	}
	for _, path := range []string{"/console/tenants/6f1e0b1c-0000-4000-8000-000000000000/", "/console/tenants/not-an-id/"} {
		if p := b.Get(path); p.Status != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, p.Status)
		}
	}
}

// Each row says the tenant's status as a badge (degraded for an active
// tenant whose access broke) with its figures; the order chosen is kept by
// the next page's link.
func TestTheTenantsListShowsStatusBadgesAndFiguresAndKeepsItsOrderAcrossPages(t *testing.T) {
	s := newSite(t, console.Limits{})
	pool := s.Store.Pool()
	testkit.Exec(t, pool, `UPDATE tenants SET status = 'active', health = 'degraded' WHERE id = $1`, s.Tenant)
	for i, status := range []string{"onboarding", "active", "suspended", "deleted"} {
		id := storetest.Tenant(t, pool, fmt.Sprintf("Tenant %d %s", i, status))
		testkit.Exec(t, pool, `UPDATE tenants SET status = $2 WHERE id = $1`, id, status)
	}
	for i := range 55 {
		storetest.Tenant(t, pool, fmt.Sprintf("Zeta %02d", i))
	}
	if err := s.Store.RaiseAlert(t.Context(), s.Tenant, store.AlertUsersUnmonitored, "", "3 users are not monitored", nil); err != nil {
		t.Fatal(err)
	}
	m, err := s.Store.AddMonitor(t.Context(), s.Tenant, "mon@contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Exec(t, pool, `INSERT INTO directory_users (tenant_id, upn, object_id, resolution_status)
		SELECT $1, 'u' || i || '@contoso.example', gen_random_uuid(), 'resolved' FROM generate_series(1, 3) i`, s.Tenant)
	testkit.Exec(t, pool, `INSERT INTO subscriptions (tenant_id, monitor_id, resource, last_notification_at) VALUES ($1, $2, 'r', now() - interval '2 hours')`,
		s.Tenant, m.ID)
	s.add("look@vendor.example", staff.Viewer)
	b := s.browser()
	b.signIn("look@vendor.example")

	p := b.Get("/console/?sort=status")
	rows := regexp.MustCompile(`(?s)<li class="tenant-row">.*?</li>`).FindAllString(p.Body, -1)
	if len(rows) != 50 {
		t.Fatalf("%d rows on the first page, want 50:\n%s", len(rows), p.Text())
	}
	first := html.UnescapeString(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(rows[0], " "))
	for _, want := range []string{"Contoso", "degraded", "0 users monitored, 3 unmonitored", "1 monitor needs action",
		"last notification 2 hours ago", "1 open alert"} {
		if !strings.Contains(strings.Join(strings.Fields(first), " "), want) {
			t.Errorf("Contoso's row does not say %q: %s", want, strings.Join(strings.Fields(first), " "))
		}
	}
	for _, badge := range []string{`badge bad tenant-status">degraded`, `badge pending tenant-status">onboarding`} {
		if !strings.Contains(p.Body, badge) {
			t.Errorf("no %s badge on the first page", badge)
		}
	}
	next := regexp.MustCompile(`<a href="([^"]+)" id="next-page"`).FindStringSubmatch(p.Body)
	if next == nil || !strings.Contains(next[1], "sort=status") {
		t.Fatalf("the next page's link does not keep the order: %v", next)
	}
	p = b.Get(unescapeAmp(next[1]))
	text := p.Text()
	if !strings.Contains(text, "Tenant 2 suspended") || !strings.Contains(text, "Tenant 3 deleted") ||
		strings.Index(text, "Tenant 2 suspended") > strings.Index(text, "Tenant 3 deleted") {
		t.Errorf("the second page by status does not end with the suspended, then the deleted tenant:\n%s", text)
	}
	for _, badge := range []string{`badge ok tenant-status">active`, `badge pending tenant-status">suspended`, `badge bad tenant-status">deleted`} {
		if !strings.Contains(p.Body, badge) {
			t.Errorf("no %s badge on the second page", badge)
		}
	}
}

// Each tenant's row says its delivery health: dead and pending deliveries
// as a warning, pending alone as a hint, nothing for none; a count past
// the list's cap reads as the cap and more.
func TestTheTenantsListShowsEachTenantsDeliveryBacklog(t *testing.T) {
	s := newSite(t, console.Limits{})
	pool := s.Store.Pool()
	fabrikam := storetest.Tenant(t, pool, "Fabrikam")
	busy := storetest.Tenant(t, pool, "Busy Inc")
	storetest.Tenant(t, pool, "Quiet Ltd")
	for _, c := range []struct {
		tenant      any
		dead, total int
	}{{s.Tenant, 3, 5}, {fabrikam, 0, 4}, {busy, store.BacklogCountCap + 1, store.BacklogCountCap + 1}} {
		testkit.Exec(t, pool, `WITH sec AS (INSERT INTO secrets (id, tenant_id, purpose, key_id, ciphertext)
				VALUES (gen_random_uuid(), $1, 'test', 'k1', '\x00') RETURNING id),
			ep AS (INSERT INTO endpoints (tenant_id, url, signing_secret_id) SELECT $1, 'https://hook.example/' || $1, id FROM sec RETURNING id),
			ev AS (INSERT INTO presence_events (tenant_id, user_object_id, sequence, availability, activity, mapped_state, source, observed_at)
				SELECT $1, gen_random_uuid(), i, 'Busy', 'InACall', 'talking', 'notification', now() FROM generate_series(1, $3::int) i
				RETURNING id, sequence)
			INSERT INTO deliveries (tenant_id, endpoint_id, event_id, status)
			SELECT $1, ep.id, ev.id, CASE WHEN ev.sequence <= $2 THEN 'dead' ELSE 'pending' END FROM ep, ev`, c.tenant, c.dead, c.total)
	}
	s.add("look@vendor.example", staff.Viewer)
	b := s.browser()
	b.signIn("look@vendor.example")
	p := b.Get("/console/")
	row := func(name string) string {
		t.Helper()
		for _, r := range regexp.MustCompile(`(?s)<li class="tenant-row">.*?</li>`).FindAllString(p.Body, -1) {
			if strings.Contains(r, ">"+name+"<") {
				return r
			}
		}
		t.Fatalf("no row of %s:\n%s", name, p.Text())
		return ""
	}
	for name, want := range map[string]string{
		"Contoso":   `badge bad tenant-backlog">3 dead, 2 pending<`,
		"Fabrikam":  `hint tenant-backlog">4 deliveries pending<`,
		"Busy Inc":  `badge bad tenant-backlog">10000+ dead, 0 pending<`,
		"Quiet Ltd": "",
	} {
		got := row(name)
		if want == "" && strings.Contains(got, "tenant-backlog") || want != "" && !strings.Contains(got, want) {
			t.Errorf("%s's row, want %q:\n%s", name, want, got)
		}
	}
}
