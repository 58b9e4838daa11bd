package console_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/go-chi/chi/v5"

	"presencebridge/internal/roster"
	"presencebridge/internal/staff"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/tenantview"
	"presencebridge/internal/testkit"
	"presencebridge/web"
	"presencebridge/web/console"
	"presencebridge/web/portal/portaltest"
)

// consoleBeside serves the console beside a running portal: the same
// database, graphsim and tenant-page services (Verify, live presence, the
// onboarding that makes Copy URLs, whose links the portal's server
// opens), staff authorization in front. It returns the console's URL.
func consoleBeside(t *testing.T, p *portaltest.Portal, accounts *staff.Service) string {
	t.Helper()
	pages := p.Pages
	pages.Monitors.SignIn = nil // as the web role: a monitor's own person signs it in
	routes := console.Routes(console.Deps{Store: p.Store, Staff: accounts, Views: tenantview.New(p.Store),
		Sessions: console.NewSessions(p.Store.Pool(), storetest.Ring(t), false, nil), Pages: pages})
	srv := httptest.NewServer(web.New(web.Deps{Mount: func(r chi.Router) { r.Route(console.Prefix, routes) }}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// simPost posts body to graphsim's control path.
func simPost(t *testing.T, p *portaltest.Portal, path, body string) {
	t.Helper()
	resp, err := http.Post(p.SimURL+path, "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("graphsim %s: %v %v", path, resp, err)
	}
	resp.Body.Close()
}

// TestStaffFixesATenantReadsATimelineSyncsReplaysAndSuspendsItInABrowser
// is issue 14's acceptance walk. A support member signs in to the
// console and finds the tenant; Verify configuration finds the one thing
// wrong — a monitor whose sign-in Microsoft revoked — and its button makes
// the Copy URL, which the monitor's holder opens and signs in with; the
// member opens a user in a call and reads their timeline beside their
// live presence at Microsoft, re-syncs every user, replays the dead letter
// the webhook missed while it was disabled, then suspends the tenant (with
// a reason, confirmed) and resumes it. Captured at 1280 and 375 px,
// neither scrolling sideways.
func TestStaffFixesATenantReadsATimelineSyncsReplaysAndSuspendsItInABrowser(t *testing.T) {
	ctx := t.Context()
	p := portaltest.New(t)
	ten := p.Seed.Tenants[0]
	testkit.Exec(t, p.Store.Pool(), `UPDATE tenants SET status = 'active', ms_domain = $2 WHERE id = $1`, p.Tenant.ID, ten.Domain)
	mon := ten.Monitors[0]
	monitor := p.AuthorizeMonitor(t, mon)
	adele, ben := ten.Users[0], ten.Users[1]
	if _, err := roster.New(p.Store).Import(ctx, p.Tenant.ID, []roster.Entry{{UPN: adele.UPN}, {UPN: ben.UPN}}, roster.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	p.EnginePass(t) // looked up and subscribed to
	rx := testkit.NewWebhookReceiver(t)
	ep, err := p.Store.CreateEndpoint(ctx, p.Tenant.ID, rx.URL, "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=")
	if err != nil {
		t.Fatal(err)
	}
	// Ben's change while the webhook was disabled: a dead letter, kept.
	if err := p.Store.DisableEndpoint(ctx, ep.ID, "by its admin"); err != nil {
		t.Fatal(err)
	}
	p.PresenceChange(t, ben.ID, "Away", "Away", "away")
	if _, err := p.Store.EnableEndpoint(ctx, p.Tenant.ID, ep.ID); err != nil {
		t.Fatal(err)
	}
	// Adele joins a call: at Microsoft, and as the processor records it.
	p.PresenceChange(t, adele.ID, "Available", "Available", "available")
	simPost(t, p, "/_sim/users/"+adele.ID.String()+"/presence", `{"availability": "Busy", "activity": "InACall"}`)
	p.PresenceChange(t, adele.ID, "Busy", "InACall", "talking")
	// Microsoft revokes the monitor's sign-in sessions.
	simPost(t, p, "/_sim/users/"+mon.ID.String()+"/revoke", "")

	accounts := staff.New(p.Store, staff.Options{})
	if _, err := accounts.Add(ctx, "help@vendor.example", "", staff.Support, password, "staff:test"); err != nil {
		t.Fatal(err)
	}
	base := consoleBeside(t, p, accounts)
	tenant := base + "/console/tenants/" + p.Tenant.ID.String()
	shots := testkit.NewScreenshots(t, "console-support")
	b := testkit.Browser(t)

	// Signs in and finds the tenant by its domain.
	testkit.Run(t, b, chromedp.Navigate(base+"/console/"), chromedp.WaitVisible("#sign-in"),
		chromedp.SendKeys("#email", "help@vendor.example"), chromedp.SendKeys("#password", password),
		chromedp.Click("#sign-in"), chromedp.WaitVisible("#tenants"),
		chromedp.SetValue("#q", ten.Domain), chromedp.Click("#search"), chromedp.WaitVisible(`#tenants[data-search="`+ten.Domain+`"]`))
	if row := testkit.Text(t, b, "#tenants li.tenant-row"); !strings.Contains(row, p.Tenant.Name) || !strings.Contains(row, "2 users monitored") {
		t.Errorf("the tenant's row: %q", row)
	}
	shots.Take(b, "01-tenant-found")
	testkit.Run(t, b, chromedp.Click("#tenants a.user-upn"), chromedp.WaitVisible("#tenant-health"))

	// Verify configuration: the revoked monitor alone fails, with its fix.
	testkit.Run(t, b, chromedp.Click("#nav-verify"), chromedp.WaitVisible("#verify-run"), chromedp.Click("#verify-run"), chromedp.WaitVisible("#checks"))
	if got := testkit.Text(t, b, "#verify-title"); got != "1 check failed" {
		t.Errorf("Verify says %q:\n%s", got, testkit.Text(t, b, "#checks"))
	}
	failed := testkit.Text(t, b, "#checks li.check.fail")
	if !strings.Contains(failed, "Monitor "+mon.UPN+" signs in") || !strings.Contains(failed, "Copy URL") {
		t.Errorf("the failed check: %q", failed)
	}
	shots.Take(b, "02-verify")
	testkit.Run(t, b, chromedp.Click("#checks li.check.fail form.check-action button"), chromedp.WaitVisible("input.copy-url"))
	link := testkit.Value(t, b, "input.copy-url")
	if !strings.HasPrefix(link, p.Base+"/onboarding/m/") {
		t.Fatalf("Copy URL = %q", link)
	}
	shots.Take(b, "03-copy-url")
	holder, cancel := chromedp.NewContext(b, chromedp.WithNewBrowserContext())
	defer cancel()
	testkit.Run(t, holder, chromedp.Navigate(link), chromedp.WaitVisible("#monitor-sign-in"), chromedp.Click("#monitor-sign-in"),
		chromedp.WaitVisible("#login"), chromedp.SetValue("#login", mon.UPN), chromedp.SetValue("#password", mon.Password),
		chromedp.Click("#submit"), chromedp.WaitVisible(".notice.ok"))
	if m, err := p.Store.GetMonitor(ctx, p.Tenant.ID, monitor.ID); err != nil || m.Status != store.MonitorAuthorized {
		t.Errorf("after its holder's sign-in the monitor is %q (%v)", m.Status, err)
	}

	// A user in a call: the timeline, and their presence at Microsoft now.
	testkit.Run(t, b, chromedp.Navigate(tenant+"/users/"), chromedp.WaitVisible("#users"),
		chromedp.SetValue("#q", adele.UPN), chromedp.Click("#filter"), chromedp.WaitVisible(`#q[value="`+adele.UPN+`"]`),
		chromedp.Click("#users a.user-upn"), chromedp.WaitVisible("#timeline"))
	if got := testkit.Text(t, b, "#timeline"); !strings.Contains(got, "Busy / InACall → talking") || !strings.Contains(got, "Available / Available → available") {
		t.Errorf("the timeline reads %q", got)
	}
	if got := testkit.Text(t, b, "#presence-live"); got != "Busy / InACall" {
		t.Errorf("the presence at Microsoft reads %q", got)
	}
	shots.Take(b, "04-user-timeline")

	// Sync all.
	testkit.Run(t, b, chromedp.Navigate(tenant+"/users/"), chromedp.WaitVisible("#sync-all"), chromedp.Click("#sync-all"),
		chromedp.WaitVisible("#operation-status"))
	if got := testkit.Text(t, b, "#operation-status"); got != "pending" {
		t.Errorf("the re-sync of every user is %q", got)
	}
	shots.Take(b, "05-sync-all")

	// The dead letter, replayed.
	testkit.Run(t, b, chromedp.Navigate(tenant+"/integration/webhooks/"+ep.ID.String()), chromedp.WaitVisible("#replay-all"),
		chromedp.Click("#replay-all"), chromedp.WaitVisible(".notice.ok"))
	if got := testkit.Text(t, b, ".notice.ok"); !strings.Contains(got, "1 delivery sent again.") {
		t.Errorf("after Replay the page says %q", got)
	}
	shots.Take(b, "06-replayed")

	// Suspended with a reason, confirmed, then resumed.
	testkit.Run(t, b, chromedp.Click("#nav-support"), chromedp.WaitVisible("#lifecycle-form"),
		chromedp.SendKeys("#reason", "customer asked for a pause"), chromedp.Click("#suspend"), chromedp.WaitVisible("#confirm"))
	if got := testkit.Text(t, b, "#confirm-reason"); got != "customer asked for a pause" {
		t.Errorf("the confirmation shows the reason %q", got)
	}
	shots.Take(b, "07-confirm-suspend")
	testkit.Run(t, b, chromedp.Click("#confirm"), chromedp.WaitVisible("#resume"))
	if got := testkit.Text(t, b, "#lifecycle-status"); got != "suspended" {
		t.Errorf("after confirming the tenant is %q", got)
	}
	shots.Take(b, "08-suspended")
	testkit.Run(t, b, chromedp.Click("#resume"), chromedp.WaitVisible("#suspend"))
	if got := testkit.Text(t, b, "#lifecycle-status"); got != "active" {
		t.Errorf("resumed, the tenant is %q", got)
	}
	shots.Take(b, "09-resumed")

	var got string
	if err := p.Store.Pool().QueryRow(ctx, `SELECT string_agg(action, ' ' ORDER BY id) FROM audit_log
		WHERE tenant_id = $1 AND actor = 'staff:help@vendor.example'`, p.Tenant.ID).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "tenant.verified") || !strings.Contains(got, "tenant.suspended") ||
		!strings.Contains(got, "tenant.resumed") {
		t.Errorf("audited as the staff member: %s", got)
	}
}
