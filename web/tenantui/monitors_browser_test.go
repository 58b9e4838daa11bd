package tenantui_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"presencebridge/internal/identity"
	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
	"presencebridge/internal/tokens"
	"presencebridge/web/portal/portaltest"
)

// TestAnAdminReauthorizesARevokedMonitorWithCopyURLInABrowser is issue
// 13's acceptance walk for Monitors: an admin signs in to the portal, adds
// a monitor and signs it in with Authorize now (coming back to the
// portal through onboarding's callback); graphsim then revokes the
// monitor's sign-in sessions and the token vault finds its grant gone; the
// page says "Needs re-authorization" with the reason, the admin makes a
// Copy URL, and the monitor's holder opens it in a second browser context
// and signs in; the page says Authorized again, and the used link says so
// in good words. Captured at 1280 and 375 px.
func TestAnAdminReauthorizesARevokedMonitorWithCopyURLInABrowser(t *testing.T) {
	p := portaltest.New(t)
	ten := p.Seed.Tenants[0]
	mon := ten.Monitors[0]
	shots := testkit.NewScreenshots(t, "portal-monitors")
	admin := testkit.Browser(t)
	if err := p.SignInBrowser(admin, ten.Admin); err != nil {
		t.Fatal(err)
	}
	row := "#monitors li.monitor:nth-of-type(1)"
	testkit.Run(t, admin, chromedp.Click("#nav-monitors"), chromedp.WaitVisible("#capacity"),
		chromedp.SetValue("#upn", mon.UPN), chromedp.Click("#add-monitor"), chromedp.WaitVisible(row))
	if got := testkit.Text(t, admin, row+" .badge"); got != "Not authorized" {
		t.Errorf("a new monitor shows %q", got)
	}
	shots.Take(admin, "01-monitor-added")

	// Authorize now: graphsim's sign-in page as the monitor, then back here.
	testkit.Run(t, admin, chromedp.Click(row+" button.authorize-now"), chromedp.WaitVisible("#login"),
		chromedp.SetValue("#password", mon.Password), chromedp.Click("#submit"), chromedp.WaitVisible(row+" .badge.ok"))
	if got := testkit.Text(t, admin, ".notice.ok"); !strings.Contains(got, "The monitor is authorized.") {
		t.Errorf("after Authorize now the page says %q", got)
	}
	shots.Take(admin, "02-authorized")

	// The grant is revoked at Microsoft; the engine's token check finds it.
	resp, err := http.Post(p.SimURL+"/_sim/users/"+mon.ID.String()+"/revoke", "application/json", nil)
	if err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("revoke in graphsim: %v %v", resp, err)
	}
	resp.Body.Close()
	ms, _ := p.Store.Monitors(t.Context(), p.Tenant.ID)
	idc, err := identity.New(identity.Options{LoginURL: p.SimURL})
	if err != nil {
		t.Fatal(err)
	}
	tokens.New(p.Store, idc, p.Onboarding.Credentials, nil).Recheck(t.Context(), p.Tenant.ID, ms[0].ID)
	testkit.Run(t, admin, chromedp.Navigate(p.Base+"/portal/monitors/"), chromedp.WaitVisible(row+" .badge.bad"))
	if got := testkit.Text(t, admin, row+" .badge"); got != "Needs re-authorization" {
		t.Errorf("a revoked monitor shows %q", got)
	}
	if got := testkit.Text(t, admin, row+" .reason"); !strings.Contains(got, "AADSTS50173") {
		t.Errorf("the reason shown is %q, want Microsoft's (AADSTS50173, revoked)", got)
	}
	shots.Take(admin, "03-needs-reauthorization")

	// Copy URL, opened by the monitor's holder in a second browser context.
	testkit.Run(t, admin, chromedp.Click(row+" button.copy-url-action"), chromedp.WaitVisible("input.copy-url"),
		chromedp.WaitVisible("button.copy-button"))
	link := testkit.Value(t, admin, "input.copy-url")
	if !strings.HasPrefix(link, p.Base+"/onboarding/m/") {
		t.Fatalf("Copy URL = %q", link)
	}
	shots.Take(admin, "04-copy-url")
	holder, cancel := chromedp.NewContext(admin, chromedp.WithNewBrowserContext())
	defer cancel()
	testkit.Run(t, holder, chromedp.Navigate(link), chromedp.WaitVisible("#monitor-sign-in"),
		chromedp.Click("#monitor-sign-in"), chromedp.WaitVisible("#login"),
		chromedp.SetValue("#login", mon.UPN), chromedp.SetValue("#password", mon.Password),
		chromedp.Click("#submit"), chromedp.WaitVisible(".notice.ok"))
	shots.Take(holder, "05-holder-signed-in")

	testkit.Run(t, admin, chromedp.Navigate(p.Base+"/portal/monitors/"), chromedp.WaitVisible(row+" .badge.ok"))
	shots.Take(admin, "06-authorized-again")
	if m, _ := p.Store.GetMonitor(t.Context(), p.Tenant.ID, ms[0].ID); m.Status != store.MonitorAuthorized {
		t.Errorf("monitor %s after the Copy URL sign-in", m.Status)
	}
	// The used link says the good news in good words.
	testkit.Run(t, holder, chromedp.Navigate(link), chromedp.WaitVisible("h1"))
	if h1, ok := testkit.Text(t, holder, "h1"), testkit.Text(t, holder, ".notice"); h1 != "Already signed in" || !strings.Contains(ok, "already signed in") {
		t.Errorf("a used Copy URL shows %q / %q", h1, ok)
	}
	if bad, err := chromedp.Run(holder, chromedp.Evaluate[int](`document.querySelectorAll(".notice.error").length`)); err != nil || bad > 0 {
		t.Error("a used Copy URL shows its good news in red")
	}
}
