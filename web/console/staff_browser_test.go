package console_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"presencebridge/internal/staff"
	"presencebridge/internal/testkit"
	"presencebridge/web/console"
)

// TestAnAdminAddsAStaffAccountAndSeesItsPasswordOnceInABrowser: the Staff
// page from the navigation, an account added with a password made by the
// console, shown once, then its role changed. Captured at 1280 and 375 px.
func TestAnAdminAddsAStaffAccountAndSeesItsPasswordOnceInABrowser(t *testing.T) {
	s := newSite(t, console.Limits{})
	s.add("boss@vendor.example", staff.Admin)
	s.add("help@vendor.example", staff.Support)
	shots := testkit.NewScreenshots(t, "console-staff")
	b := testkit.Browser(t)

	testkit.Run(t, b, chromedp.Navigate(s.URL+"/console/"), chromedp.WaitVisible("#sign-in"),
		chromedp.SendKeys("#email", "boss@vendor.example"), chromedp.SendKeys("#password", password),
		chromedp.Click("#sign-in"), chromedp.WaitVisible("#tenants"))
	testkit.Run(t, b, chromedp.Click("#nav-staff"), chromedp.WaitVisible("#add-staff"))
	shots.Take(b, "01-staff")

	testkit.Run(t, b, chromedp.SendKeys("#staff-email", "new@vendor.example"), chromedp.SendKeys("#staff-name", "New Person"),
		chromedp.SetValue("#staff-role", "support"), chromedp.Click("#add-staff-submit"), chromedp.WaitVisible("#staff-password"))
	if got, err := chromedp.Run(b, chromedp.Evaluate[string](`document.querySelector("#staff-password").value`)); err != nil || len(got) != 26 {
		t.Errorf("the password shown: %q (%v)", got, err)
	}
	if row := testkit.Text(t, b, `li[data-email="new@vendor.example"]`); !strings.Contains(row, "support") || !strings.Contains(row, "New Person") {
		t.Errorf("the new account's row: %q", row)
	}
	shots.Take(b, "02-added")

	testkit.Run(t, b, chromedp.SetValue(`li[data-email="new@vendor.example"] select[name=role]`, "viewer"),
		chromedp.Click(`li[data-email="new@vendor.example"] .change-role`),
		// The next page shows no password: the page after the POST, not the one before.
		chromedp.WaitNotPresent("#staff-password"), chromedp.WaitVisible(`.notice.ok`))
	if n := testkit.Text(t, b, ".notice.ok"); !strings.Contains(n, "new@vendor.example is viewer now.") {
		t.Errorf("after the role change: %q", n)
	}
	shots.Take(b, "03-role-changed")
}
