package tenantui_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"presencebridge/internal/testkit"
	"presencebridge/web/portal/portaltest"
)

// TestAnAdminFindsAnUnresolvedUserAndReSyncsAMonitoredOneInABrowser is
// issue 13's walk through Users: an admin signs in to the portal, sees
// the roster, filters it to the unresolved users with their reason, opens
// a user, sees their presence and its timeline, copies the presence data
// as the API answers it, presses Re-sync and sees the operation. Captured
// at 1280 and 375 px, neither scrolling sideways.
func TestAnAdminFindsAnUnresolvedUserAndReSyncsAMonitoredOneInABrowser(t *testing.T) {
	p := portaltest.New(t)
	activate(t, p)
	alex := resolvedRoster(t, p, 4)[p.Seed.Tenants[0].Users[0].UPN]
	presenceChange(t, p, *alex.ObjectID, "Available", "Available", "available")
	presenceChange(t, p, *alex.ObjectID, "Busy", "InACall", "talking")
	shots := testkit.NewScreenshots(t, "portal-users")
	b := testkit.Browser(t)
	if err := p.SignInBrowser(b, p.Seed.Tenants[0].Admin); err != nil {
		t.Fatal(err)
	}
	testkit.Run(t, b, chromedp.Click("#nav-users"), chromedp.WaitVisible("#users"))
	if got := testkit.Text(t, b, "#roster-counts"); !strings.HasPrefix(got, "5 users") {
		t.Errorf("the roster counts %q", got)
	}
	// The filter is one row on a wide screen: its fields side by side.
	if row, err := chromedp.Run(b, chromedp.Evaluate[bool](`["#status", "#q", "#filter"].map(s => document.querySelector(s).getBoundingClientRect().bottom)
		.every((y, _, all) => Math.abs(y - all[0]) < 2)`)); err != nil || !row {
		t.Errorf("at 1280 px the filter's fields are not in one row (%v)", err)
	}
	shots.Take(b, "01-users")

	testkit.Run(t, b, chromedp.SetValue("#status", "unresolved"))
	navigate(t, b, chromedp.Click("#filter"))
	if got := testkit.Text(t, b, "#users"); !strings.Contains(got, "ghost@contoso.example") || strings.Contains(got, alex.UPN) {
		t.Errorf("the unresolved users are %q", got)
	}
	if got := testkit.Text(t, b, ".user-reason"); !strings.Contains(got, "ghost@contoso.example") {
		t.Errorf("the unresolved user's reason is %q", got)
	}
	shots.Take(b, "02-unresolved")

	testkit.Run(t, b, chromedp.SetValue("#status", ""), chromedp.SetValue("#q", alex.UPN[:4]))
	navigate(t, b, chromedp.Click("#filter"))
	testkit.Run(t, b, chromedp.Click(`#users a.user-upn`), chromedp.WaitVisible("#presence"))
	if got := testkit.Text(t, b, "#presence-state"); got != "talking" {
		t.Errorf("the user's presence is sent as %q", got)
	}
	if got := testkit.Text(t, b, "#timeline"); !strings.Contains(got, "Busy / InACall → talking") || !strings.Contains(got, "Available / Available → available") {
		t.Errorf("the timeline reads %q", got)
	}
	// The copy script shows the button and puts the JSON on the clipboard.
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(b, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted, Origin: p.Base}); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Run(t, b, chromedp.WaitVisible("#copy-presence"), chromedp.Click("#copy-presence"),
		chromedp.Poll[chromedp.Void](`document.querySelector(".copy-status").textContent !== ""`))
	if got := testkit.Text(t, b, ".copy-status"); got != "Copied." {
		t.Errorf("after Copy presence data the page says %q", got)
	}
	clip, err := chromedp.Run(b, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if want := testkit.Value(t, b, "#presence-json"); clip != want || !strings.HasPrefix(clip, `{"userId":"`+alex.ObjectID.String()) {
		t.Errorf("the clipboard holds %q, want the presence data %q", clip, want)
	}
	shots.Take(b, "03-user")

	navigate(t, b, chromedp.Click("#sync-user"))
	if got := testkit.Text(t, b, "h1"); got != "Re-sync of "+alex.UPN {
		t.Errorf("after Re-sync the page is %q", got)
	}
	if got := testkit.Text(t, b, "#operation-status"); got != "pending" {
		t.Errorf("the re-sync is %q", got)
	}
	shots.Take(b, "04-resync")
}

// TestAnAdminSwitchesTheRosterToAnEntraGroupAndSeesItsMembersMonitoredInABrowser
// is issue 13's acceptance step: the admin follows an Entra group from
// the Users page; after the engine's next pass (the group read, its
// members looked up and subscribed to by the authorized monitor) the
// page lists them monitored. Captured at 1280 and 375 px.
func TestAnAdminSwitchesTheRosterToAnEntraGroupAndSeesItsMembersMonitoredInABrowser(t *testing.T) {
	p := portaltest.New(t)
	activate(t, p)
	members := p.Seed.Tenants[0].Users[:3]
	group := createGroup(t, p, members[0].UPN, members[1].UPN, members[2].UPN)
	authorizeMonitor(t, p)
	importUsers(t, p, "left.over@contoso.example")
	shots := testkit.NewScreenshots(t, "portal-users-group")
	b := testkit.Browser(t)
	if err := p.SignInBrowser(b, p.Seed.Tenants[0].Admin); err != nil {
		t.Fatal(err)
	}
	testkit.Run(t, b, chromedp.Click("#nav-users"), chromedp.WaitVisible("#group"), chromedp.SetValue("#group", group))
	navigate(t, b, chromedp.Click("#use-group"))
	if got := testkit.Text(t, b, ".notice.ok"); !strings.Contains(got, "The roster follows the Entra group now.") {
		t.Errorf("after Use this group the page says %q", got)
	}
	shots.Take(b, "01-group-chosen")

	enginePass(t, p)
	testkit.Run(t, b, chromedp.SetValue("#status", "monitored"))
	navigate(t, b, chromedp.Click("#filter"))
	list := testkit.Text(t, b, "#users")
	for _, u := range members {
		if !strings.Contains(list, u.UPN) {
			t.Errorf("the monitored users do not list %s: %q", u.UPN, list)
		}
	}
	if n, _ := chromedp.Run(b, chromedp.Evaluate[int](`document.querySelectorAll("#users .badge.ok").length`)); n != len(members) {
		t.Errorf("%d users marked monitored, want %d", n, len(members))
	}
	if got := testkit.Text(t, b, "#roster-counts"); !strings.HasPrefix(got, "3 users: 3 monitored") {
		t.Errorf("the roster counts %q", got)
	}
	shots.Take(b, "02-members-monitored")
}

// navigate runs a step that loads another page, such as the same page
// with other query parameters, and waits for it.
func navigate(t *testing.T, b context.Context, step chromedp.Action[chromedp.Void]) {
	t.Helper()
	resp, err := chromedp.RunResponse(b, step)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("%s answered %d", resp.URL, resp.Status)
	}
}
