package tenantui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/testkit"
	"presencebridge/web/portal/portaltest"
)

// TestAnAdminReplacesAnExpiringOwnAppSecretInABrowser is issue 13's
// acceptance walk: an admin of an own-app tenant whose secret expires in
// five days signs in to the portal, sees the warning, creates a new secret
// in the app registration (graphsim's control API) and enters it; a date
// missing first, then accepted. Captured at 1280 and 375 px.
func TestAnAdminReplacesAnExpiringOwnAppSecretInABrowser(t *testing.T) {
	p := portaltest.New(t)
	app, m := ownApp(t, p, time.Now().AddDate(0, 0, 5))
	shots := testkit.NewScreenshots(t, "portal-app")
	b := testkit.Browser(t)
	if err := p.SignInBrowser(b, p.Seed.Tenants[0].Admin); err != nil {
		t.Fatal(err)
	}
	testkit.Run(t, b, chromedp.Click("#nav-app"), chromedp.WaitVisible("#secret-expiry"))
	if got := testkit.Text(t, b, "#secret-expiry .badge"); !strings.HasPrefix(got, "Expires in 4 days") {
		t.Errorf("expiry shown as %q", got)
	}
	if got := testkit.Text(t, b, "#forecast li.current"); !strings.HasPrefix(got, "7 days before") {
		t.Errorf("warning in force: %q", got)
	}
	shots.Take(b, "01-secret-expiring")

	newSecret := "new~" + uuid.NewString()
	simSeed(t, p, graphsim.Seed{App: graphsim.SeedApp{ClientID: app.ClientID, ClientSecret: newSecret}})
	testkit.Run(t, b, chromedp.SetValue("#clientSecret", newSecret), chromedp.Click("#replace-secret"),
		chromedp.WaitVisible("#secretExpires-error"))
	shots.Take(b, "02-expiry-asked")
	next := time.Now().AddDate(1, 0, 0)
	testkit.Run(t, b, chromedp.SetValue("#clientSecret", newSecret), chromedp.SetValue("#secretExpires", next.Format("2006-01-02")),
		chromedp.Click("#replace-secret"), chromedp.WaitVisible(".notice.ok"))
	if got := testkit.Text(t, b, "#secret-expiry .badge.ok"); !strings.HasPrefix(got, "Expires in 36") {
		t.Errorf("after replacing, expiry shown as %q", got)
	}
	shots.Take(b, "03-secret-replaced")
	if s := storedSecret(t, p); s != newSecret {
		t.Error("the new secret was not stored")
	}
	if s := monitorStatus(t, p, m.ID); s != "authorized" {
		t.Errorf("monitor after the new secret: %s", s)
	}
}
