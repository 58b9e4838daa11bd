package tenantui_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"presencebridge/internal/testkit"
	"presencebridge/web/portal/portaltest"
)

// TestAnAdminAddsAndRemovesAnotherAdminInABrowser: from Admins in the
// navigation, an unknown UPN refused in words, a colleague added by UPN and
// listed, then removed behind its confirmation. Captured at 1280 and
// 375 px.
func TestAnAdminAddsAndRemovesAnotherAdminInABrowser(t *testing.T) {
	p := portaltest.New(t)
	admin, colleague := p.Seed.Tenants[0].Admin, p.Seed.Tenants[0].Users[0]
	shots := testkit.NewScreenshots(t, "portal-admins")
	b := testkit.Browser(t)
	if err := p.SignInBrowser(b, admin); err != nil {
		t.Fatal(err)
	}
	testkit.Run(t, b, chromedp.Click("#nav-admins"), chromedp.WaitVisible("#admins"))
	shots.Take(b, "01-only-admin")

	testkit.Run(t, b, chromedp.SetValue("#upn", "nobody@"+p.Seed.Tenants[0].Domain), chromedp.Click("#add-admin"),
		chromedp.WaitVisible("#upn-error"))
	if got := testkit.Text(t, b, "#upn-error"); !strings.Contains(got, "There is no account nobody@") {
		t.Errorf("unknown UPN refused with %q", got)
	}
	shots.Take(b, "02-unknown-refused")

	testkit.Run(t, b, chromedp.SetValue("#upn", colleague.UPN), chromedp.Click("#add-admin"), chromedp.WaitVisible(".notice.ok"))
	row := "#admin-" + colleague.ID.String()
	if got := testkit.Text(t, b, row+" .upn"); got != colleague.UPN {
		t.Errorf("listed as %q, want %s", got, colleague.UPN)
	}
	shots.Take(b, "03-added")

	testkit.Run(t, b, chromedp.Click(row+" .confirm summary"), chromedp.WaitVisible(row+" .remove-admin"))
	shots.Take(b, "04-remove-confirm")
	testkit.Run(t, b, chromedp.Click(row+" .remove-admin"), chromedp.WaitVisible(".notice.ok"), chromedp.WaitVisible("#only-admin"))
	if got := testkit.Text(t, b, "#admins"); strings.Contains(got, colleague.UPN) {
		t.Errorf("still listed after removal: %q", got)
	}
	shots.Take(b, "05-removed")
	if as, _ := p.Store.PortalAdmins(t.Context(), p.Tenant.ID); len(as) != 1 || as[0].ObjectID != admin.ID {
		t.Errorf("admins after the walk: %v", as)
	}
}
