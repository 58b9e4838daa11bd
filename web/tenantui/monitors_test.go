package tenantui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
	"presencebridge/web/portal/portaltest"
)

// bigTenant gives the portal's tenant monitors authorized monitors, each
// holding a live subscription, and users resolved users spread over them
// (as the engine would, at most 650 each).
func bigTenant(t testing.TB, p *portaltest.Portal, monitors, users int) []store.Monitor {
	t.Helper()
	pool := p.Store.Pool()
	testkit.Exec(t, pool, `INSERT INTO monitors (tenant_id, upn, status, display_name, authorized_at)
		SELECT $1, 'presence-monitor-' || i || '@contoso.example', 'authorized', 'Monitor ' || i, now()
		FROM generate_series(1, $2) i`, p.Tenant.ID, monitors)
	testkit.Exec(t, pool, `INSERT INTO subscriptions (tenant_id, monitor_id, graph_id, resource, expires_at, user_count)
		SELECT tenant_id, id, gen_random_uuid()::text, '/communications/presences', now() + interval '50 minutes', 650
		FROM monitors WHERE tenant_id = $1`, p.Tenant.ID)
	testkit.Exec(t, pool, `WITH m AS (SELECT id, row_number() OVER (ORDER BY created_at, upn) - 1 AS n, count(*) OVER () AS total
			FROM monitors WHERE tenant_id = $1)
		INSERT INTO directory_users (tenant_id, upn, display_name, object_id, resolution_status, monitor_id)
		SELECT $1, 'user' || lpad(i::text, 6, '0') || '@contoso.example', 'User ' || i, gen_random_uuid(), 'resolved',
			(SELECT id FROM m WHERE m.n = i % m.total)
		FROM generate_series(1, $2) i`, p.Tenant.ID, users)
	testkit.Exec(t, pool, `ANALYZE directory_users`)
	ms, err := p.Store.Monitors(t.Context(), p.Tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestTheMonitorsPageSaysEachStatusWithItsReasonAndTheCapacity(t *testing.T) {
	p := portaltest.New(t)
	ms := bigTenant(t, p, 3, 1800)
	pool := p.Store.Pool()
	testkit.Exec(t, pool, `UPDATE monitors SET status = 'needs_reauth', last_error = 'AADSTS50173: The provided grant has expired due to it being revoked.'
		WHERE id = $1`, ms[1].ID)
	testkit.Exec(t, pool, `UPDATE monitors SET status = 'needs_update', last_error = 'The app registration changed: sign in again.' WHERE id = $1`, ms[2].ID)
	if _, err := p.Store.AddMonitor(t.Context(), p.Tenant.ID, "presence-monitor-9@contoso.example"); err != nil {
		t.Fatal(err)
	}
	b := p.Browser()
	b.SignIn()
	pg := b.Get("/portal/monitors/")
	text := strings.Join(strings.Fields(pg.Text()), " ")
	if n := strings.Count(text, "Renew"); n != 1 {
		t.Errorf("Renew offered %d times, want once (the authorized monitor)", n)
	}
	for _, want := range []string{
		"Authorized", "Needs re-authorization", "AADSTS50173: The provided grant has expired due to it being revoked.",
		"Needs update", "The app registration changed: sign in again.", "Not authorized", "It has not signed in yet.",
		// 1800 users at 650 each with a spare: 4 needed, 1 authorized, 3 to add.
		"1800 users to monitor", "650 users", "4 monitors, one of them a spare", "Add 3 more monitors", "Covers 600 users of 650",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the page lacks %q:\n%s", want, text)
		}
	}
	if pg.Status != http.StatusOK {
		t.Errorf("status %d", pg.Status)
	}
}

func TestMonitorActionsNeedTheCSRFTokenAndAreAudited(t *testing.T) {
	p := portaltest.New(t)
	ms := bigTenant(t, p, 2, 10)
	b := p.Browser()
	b.SignIn()
	b.Get("/portal/monitors/")
	path := "/portal/monitors/" + ms[0].ID.String() + "/renew"
	if pg := b.Post(path, url.Values{"csrf": {"forged"}}); pg.Status != http.StatusForbidden {
		t.Errorf("renew with a forged token: %d", pg.Status)
	}
	pg := b.Post(path, url.Values{})
	if pg.Status != http.StatusSeeOther || pg.Location != "/portal/monitors/" {
		t.Fatalf("renew: %d %s", pg.Status, pg.Location)
	}
	if s, _ := p.Store.SubscriptionForMonitor(t.Context(), p.Tenant.ID, ms[0].ID); !s.RenewRequested {
		t.Error("Renew asked the engine for nothing")
	}
	if text := b.Get("/portal/monitors/").Text(); !strings.Contains(text, "Renewal asked for") {
		t.Errorf("after Renew the page does not say so:\n%s", text)
	}
	var actor string
	p.Store.Pool().QueryRow(t.Context(), `SELECT actor FROM audit_log WHERE action = 'monitor.renewal_requested' AND tenant_id = $1`,
		p.Tenant.ID).Scan(&actor)
	if actor != "portal:"+p.Seed.Tenants[0].Admin.ID.String() {
		t.Errorf("renewal audited as %q", actor)
	}
}

func TestAddingAMonitorWithABadNameKeepsTheInputAndSaysWhy(t *testing.T) {
	p := portaltest.New(t)
	b := p.Browser()
	b.SignIn()
	b.Get("/portal/monitors/")
	pg := b.Post("/portal/monitors/", url.Values{"upn": {"presence-monitor"}})
	if pg.Status != http.StatusUnprocessableEntity || !strings.Contains(pg.Text(), "Enter the monitor account's user name") ||
		!strings.Contains(pg.Body, `value="presence-monitor"`) {
		t.Errorf("bad name: %d\n%s", pg.Status, pg.Text())
	}
}

func TestCopyURLAgainWithdrawsTheEarlierLink(t *testing.T) {
	p := portaltest.New(t)
	m, err := p.Store.AddMonitor(t.Context(), p.Tenant.ID, p.Seed.Tenants[0].Monitors[0].UPN)
	if err != nil {
		t.Fatal(err)
	}
	b := p.Browser()
	b.SignIn()
	b.Get("/portal/monitors/")
	link := func() string {
		t.Helper()
		if pg := b.Post("/portal/monitors/"+m.ID.String()+"/link", url.Values{}); pg.Status != http.StatusSeeOther {
			t.Fatalf("Copy URL: %d", pg.Status)
		}
		pg := b.Get("/portal/monitors/")
		i := strings.Index(pg.Body, p.Base+"/onboarding/m/")
		if i < 0 {
			t.Fatalf("no link on the page:\n%s", pg.Text())
		}
		return pg.Body[i : i+strings.IndexByte(pg.Body[i:], '"')]
	}
	first, second := link(), link()
	holder := p.Browser()
	if pg := holder.Get(first); pg.Status != http.StatusGone {
		t.Errorf("the first link after a second was made: %d, want 410", pg.Status)
	}
	if pg := holder.Get(second); pg.Status != http.StatusOK {
		t.Errorf("the second link: %d", pg.Status)
	}
	if strings.Contains(b.Get("/portal/monitors/").Body, second) {
		t.Error("the link shows again on a reload")
	}
}

func TestAMonitorsUsersArePagedInUPNOrder(t *testing.T) {
	p := portaltest.New(t)
	ms := bigTenant(t, p, 2, 300) // 150 each
	b := p.Browser()
	b.SignIn()
	first := b.Get("/portal/monitors/" + ms[0].ID.String() + "/users")
	if !strings.Contains(first.Text(), "covers 150 users") || strings.Count(first.Body, "@contoso.example</span>") != 100 {
		t.Fatalf("first page:\n%s", first.Text())
	}
	i := strings.Index(first.Body, `id="next-page"`)
	j := strings.LastIndex(first.Body[:i], `href="`)
	next := strings.ReplaceAll(first.Body[j+6:i-2], "&amp;", "&")
	second := b.Get(next)
	if n := strings.Count(second.Body, "@contoso.example</span>"); n != 50 || strings.Contains(second.Body, `id="next-page"`) {
		t.Errorf("second page has %d users", n)
	}
}

// BenchmarkMonitorsPage is the Monitors page of a tenant with 154
// monitors and 100,000 users (issue 13: at most 300 ms of server time).
func BenchmarkMonitorsPage(b *testing.B) {
	p := portaltest.New(b)
	bigTenant(b, p, 154, 100_000)
	br := p.Browser()
	br.SignIn()
	for b.Loop() {
		if pg := br.Get("/portal/monitors/"); pg.Status != http.StatusOK {
			b.Fatalf("status %d", pg.Status)
		}
	}
}
