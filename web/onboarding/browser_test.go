package onboarding

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// TestOnboardingInABrowserFromInvitationToActiveTenant walks the whole
// flow in headless Chromium against graphsim's sign-in pages: invitation,
// form (with an error first), consent as the tenant's administrator, two
// monitors (one "Authorize now" in the admin's browser, one "Copy URL"
// opened in a second browser context with its own cookies), completion,
// the summary and its integration (signing secret revealed, API key
// created). Every onboarding page is captured at 1280 and 375 px
// and must not scroll sideways at 375 px.
func TestOnboardingInABrowserFromInvitationToActiveTenant(t *testing.T) {
	f := newFixture(t)
	ten := f.ten()
	tenant, link, err := f.svc.CreateInvite(t.Context(), "Contoso", "staff:ops@vendor.example", 0)
	if err != nil {
		t.Fatal(err)
	}
	shots := testkit.NewScreenshots(t, "onboarding")
	admin := testkit.Browser(t)

	// The invitation asks for a Microsoft sign-in, on graphsim's page, as
	// the tenant's administrator.
	testkit.Run(t, admin, chromedp.Navigate(link), chromedp.WaitVisible("#sign-in"))
	shots.Take(admin, "00-sign-in")
	testkit.Run(t, admin, chromedp.Click("#sign-in"), chromedp.WaitVisible("#login"),
		chromedp.SetValue("#login", ten.Admin.UPN), chromedp.SetValue("#password", ten.Admin.Password),
		chromedp.Click("#submit"))

	// Then the form: an error first, kept input, then saved.
	testkit.Run(t, admin, chromedp.WaitVisible("#company"))
	if got := testkit.Value(t, admin, "#company"); got != "Contoso" {
		t.Errorf("company prefilled with %q, want the invitation's name", got)
	}
	shots.Take(admin, "01-details")
	var users []string
	for _, u := range ten.Users {
		users = append(users, u.UPN)
	}
	testkit.Run(t, admin,
		chromedp.SetValue("#company", "Contoso Ltd"),
		chromedp.SetValue("#microsoftTenant", ten.Domain),
		chromedp.SetValue("#adminEmail", "it@"),
		chromedp.SetValue("#telephonyAccount", "acct-42"),
		chromedp.SetValue("#users", strings.Join(users, "\n")),
		chromedp.SetValue("#webhookUrl", "https://events.example.com/presence"),
		chromedp.Click("#save-form"),
		chromedp.WaitVisible("#adminEmail-error"))
	if got := testkit.Value(t, admin, "#telephonyAccount"); got != "acct-42" {
		t.Errorf("after an error the telephony account is %q: typed input was lost", got)
	}
	shots.Take(admin, "02-details-error")
	testkit.Run(t, admin, chromedp.SetValue("#adminEmail", "it@contoso.example"), chromedp.Click("#save-form"),
		chromedp.WaitVisible("#step-form .notice.ok"))
	shots.Take(admin, "03-details-saved")
	// The alternative to step 1, folded away until opened.
	testkit.Run(t, admin, chromedp.Click("#own-app > summary"), chromedp.WaitVisible("#clientSecret"),
		chromedp.WaitVisible("#own-app-redirect-copy"))
	shots.Take(admin, "03b-own-app-form")
	testkit.Run(t, admin, chromedp.Navigate(f.base+"/onboarding"), chromedp.WaitVisible("#authorize"))

	// Step 1: consent on graphsim's page as the tenant's administrator.
	testkit.Run(t, admin, chromedp.Click("#authorize"), chromedp.WaitVisible("#permissions"),
		chromedp.SetValue("#login", ten.Admin.UPN), chromedp.SetValue("#password", ten.Admin.Password),
		chromedp.Click("#submit"), chromedp.WaitVisible("button#authorize.ok"))
	shots.Take(admin, "04-authorized")

	// Step 2: two monitors.
	testkit.Run(t, admin, chromedp.SetValue("#upn", ten.Monitors[0].UPN), chromedp.Click("#add-monitor"),
		chromedp.WaitVisible("li.monitor"),
		chromedp.SetValue("#upn", ten.Monitors[1].UPN), chromedp.Click("#add-monitor"),
		chromedp.WaitVisible("li.monitor:nth-of-type(2)"))
	shots.Take(admin, "05-monitors-pending")

	// Monitor 1: Authorize now, in the admin's browser.
	testkit.Run(t, admin, chromedp.Click("li.monitor:nth-of-type(1) button.authorize-now"), chromedp.WaitVisible("#login"))
	if hint := testkit.Value(t, admin, "#login"); hint != ten.Monitors[0].UPN {
		t.Errorf("sign-in page prefilled with %q, want the monitor %s", hint, ten.Monitors[0].UPN)
	}
	testkit.Run(t, admin, chromedp.SetValue("#password", ten.Monitors[0].Password), chromedp.Click("#submit"),
		chromedp.WaitVisible("li.monitor:nth-of-type(1) .badge.ok"))
	shots.Take(admin, "06-monitor-authorized")

	// Monitor 2: Copy URL; the script shows the copy button under the CSP.
	testkit.Run(t, admin, chromedp.Click("li.monitor:nth-of-type(2) button.copy-url-action"),
		chromedp.WaitVisible("input.copy-url"), chromedp.WaitVisible("button.copy-button"))
	copyURL := testkit.Value(t, admin, "input.copy-url")
	if !strings.HasPrefix(copyURL, f.base+"/onboarding/m/") {
		t.Fatalf("Copy URL = %q", copyURL)
	}
	shots.Take(admin, "07-copy-url")

	// …opened by the monitor's holder in a second browser context.
	holder, cancel := chromedp.NewContext(admin, chromedp.WithNewBrowserContext())
	defer cancel()
	testkit.Run(t, holder, chromedp.Navigate(copyURL), chromedp.WaitVisible("#monitor-sign-in"))
	if h1 := testkit.Text(t, holder, "h1"); h1 != "Sign in as "+ten.Monitors[1].UPN {
		t.Errorf("Copy URL page heading = %q", h1)
	}
	shots.Take(holder, "08-copy-url-opened")
	testkit.Run(t, holder, chromedp.Click("#monitor-sign-in"), chromedp.WaitVisible("#login"),
		chromedp.SetValue("#login", ten.Monitors[1].UPN), chromedp.SetValue("#password", ten.Monitors[1].Password),
		chromedp.Click("#submit"), chromedp.WaitVisible(".notice.ok"))
	if h1 := testkit.Text(t, holder, "h1"); h1 != "Done, you can close this page" {
		t.Errorf("after the Copy URL sign-in: %q", h1)
	}
	if doneURL, err := chromedp.Run(holder, chromedp.Location()); err != nil || doneURL != f.base+"/onboarding/m/done" {
		t.Errorf("the done page's address is %s (%v), want one without the sign-in's code", doneURL, err)
	}
	shots.Take(holder, "09-copy-url-done")

	// Step 3: complete, then the summary, also on a later visit.
	testkit.Run(t, admin, chromedp.Navigate(f.base+"/onboarding"), chromedp.WaitEnabled("#complete"))
	shots.Take(admin, "10-ready-to-complete")
	testkit.Run(t, admin, chromedp.Click("#complete"), chromedp.WaitVisible("dl.summary"))
	shots.Take(admin, "11-summary")
	testkit.Run(t, admin, chromedp.Navigate(f.base+"/onboarding"), chromedp.WaitVisible("dl.summary"))

	// The integration: the webhook's signing secret and an API key, each
	// shown once in a read-only field whose Copy button the script shows.
	testkit.Run(t, admin, chromedp.Click("button.reveal-secret"), chromedp.WaitVisible("#signing-secret-0"),
		chromedp.WaitVisible("#signing-secret-0-copy"))
	if revealedURL, err := chromedp.Run(admin, chromedp.Location()); err != nil || revealedURL != f.base+"/onboarding#webhook-0" {
		t.Errorf("after Reveal the address is %s (%v), want the summary's (a reload must not post again)", revealedURL, err)
	}
	if secret := testkit.Value(t, admin, "#signing-secret-0"); !strings.HasPrefix(secret, "whsec_") {
		t.Errorf("revealed signing secret = %q", secret)
	}
	shots.Take(admin, "12-signing-secret")
	testkit.Run(t, admin, chromedp.Click("#create-api-key"), chromedp.WaitVisible("#api-key"), chromedp.WaitVisible("#api-key-copy"))
	apiKey := testkit.Value(t, admin, "#api-key")
	if got, err := f.st.VerifyAPIKey(t.Context(), apiKey); err != nil || got != tenant.ID {
		t.Errorf("the API key on the page verifies as %v %v", got, err)
	}
	shots.Take(admin, "13-api-key")

	// After Complete the invitation link opens nothing, and says where to go.
	testkit.Run(t, admin, chromedp.Navigate(link), chromedp.WaitVisible("h1"))
	if h1 := testkit.Text(t, admin, "h1"); h1 != "Onboarding is done" {
		t.Errorf("the invitation link after completion shows %q", h1)
	}
	shots.Take(admin, "14-link-after-completion")

	ctx := context.Background()
	var status string
	var active int
	f.pool.QueryRow(ctx, `SELECT status, (SELECT count(*) FROM monitors WHERE tenant_id = $1 AND status = $2) FROM tenants WHERE id = $1`,
		tenant.ID, store.MonitorAuthorized).Scan(&status, &active)
	if status != store.TenantActive || active != 2 {
		t.Errorf("tenant %s with %d authorized monitors, want active with 2", status, active)
	}
	var sealed int
	f.pool.QueryRow(ctx, `SELECT count(*) FROM secrets WHERE tenant_id = $1 AND purpose = 'monitor-refresh-token'`, tenant.ID).Scan(&sealed)
	if sealed != 2 {
		t.Errorf("%d sealed refresh tokens, want 2", sealed)
	}
	var actors []string
	rows, _ := f.pool.Query(ctx, `SELECT actor FROM audit_log WHERE action = 'monitor.authorized' ORDER BY id`)
	for rows.Next() {
		var a string
		rows.Scan(&a)
		actors = append(actors, a)
	}
	rows.Close()
	if want := "admin:" + ten.Admin.UPN + " monitor-link:" + ten.Monitors[1].UPN; strings.Join(actors, " ") != want {
		t.Errorf("monitor.authorized by %v, want %s", actors, want)
	}
	for _, secret := range []string{ten.Monitors[0].Password, ten.Monitors[1].Password, ten.Admin.Password} {
		storetest.RequireNotStored(t, f.pool, secret)
		if strings.Contains(f.logs.String(), secret) {
			t.Error("a password is in the logs")
		}
	}
	if token := strings.TrimPrefix(copyURL, f.base+"/onboarding/m/"); strings.Contains(f.logs.String(), token) {
		t.Error("the Copy URL's token is in the logs")
	}
}
