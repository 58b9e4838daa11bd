package console_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"presencebridge/internal/staff"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
	"presencebridge/web/console"
)

// TestStaffSignsInFindsATenantAndOpensItsHomeInABrowser: the sign-in form,
// the tenants list searched by domain, and the tenant's Home in the
// console's frame. Captured at 1280 and 375 px.
func TestStaffSignsInFindsATenantAndOpensItsHomeInABrowser(t *testing.T) {
	s := newSite(t, console.Limits{})
	s.add("help@vendor.example", staff.Support)
	northwind := storetest.Tenant(t, s.Store.Pool(), "Northwind Traders")
	testkit.Exec(t, s.Store.Pool(), `UPDATE tenants SET ms_domain = 'northwind.example', admin_email = 'it@northwind.example' WHERE id = $1`, northwind)
	shots := testkit.NewScreenshots(t, "console-signin")
	b := testkit.Browser(t)

	testkit.Run(t, b, chromedp.Navigate(s.URL+"/console/"), chromedp.WaitVisible("#sign-in"))
	shots.Take(b, "01-sign-in")
	testkit.Run(t, b, chromedp.SendKeys("#email", "help@vendor.example"), chromedp.SendKeys("#password", password),
		chromedp.Click("#sign-in"), chromedp.WaitVisible("#tenants"))
	if got := testkit.Text(t, b, "#signed-in-as"); got != "help@vendor.example" {
		t.Errorf("signed in as %q", got)
	}
	shots.Take(b, "02-tenants")

	// The search is a new page: wait for its list, not the old page's.
	testkit.Run(t, b, chromedp.SetValue("#q", "northwind.example"), chromedp.Click("#search"),
		chromedp.WaitVisible(`#tenants[data-search="northwind.example"]`))
	list := testkit.Text(t, b, "#tenants")
	if !strings.Contains(list, "Northwind Traders") || strings.Contains(list, "Contoso") {
		t.Fatalf("searching northwind.example lists %q", list)
	}
	shots.Take(b, "03-found")

	testkit.Run(t, b, chromedp.Click("#tenants a.user-upn"), chromedp.WaitVisible("#tenant-health"))
	if got := testkit.Text(t, b, "#tenant-name"); got != "Northwind Traders" {
		t.Errorf("the tenant's Home names %q", got)
	}
	loc, err := chromedp.Run(b, chromedp.Evaluate[string](`location.pathname`))
	if err != nil || loc != "/console/tenants/"+northwind.String()+"/" {
		t.Errorf("Home at %q (%v)", loc, err)
	}
	shots.Take(b, "04-tenant-home")

	testkit.Run(t, b, chromedp.Click("#tenant-back"), chromedp.WaitVisible("#search"))
}
