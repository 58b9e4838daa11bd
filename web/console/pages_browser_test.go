package console_test

import (
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"presencebridge/internal/staff"
	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
	"presencebridge/web/console"
)

// TestSupportInvitesACustomerAndReadsAlertsAndTheAuditLogInABrowser: a
// support member creates an invitation and copies its link, reads the
// alerts of every tenant with the mails sent, and the audit log filtered
// to staff; a viewer then finds the Support and Invitations pages without
// a button. Captured at 1280 and 375 px, none scrolling sideways.
func TestSupportInvitesACustomerAndReadsAlertsAndTheAuditLogInABrowser(t *testing.T) {
	s := newSite(t, console.Limits{})
	ctx := t.Context()
	s.add("help@vendor.example", staff.Support)
	s.add("look@vendor.example", staff.Viewer)
	if err := s.Store.RaiseAlert(ctx, s.Tenant, store.AlertMonitorNeedsReauth, "m1",
		"The presence monitor monitor.with.a.rather.long.name@contoso-corporation.example must sign in again", nil); err != nil {
		t.Fatal(err)
	}
	var alert int64
	s.Store.Pool().QueryRow(ctx, `SELECT id FROM alerts`).Scan(&alert)
	if err := s.Store.LogMail(ctx, store.SentMail{TenantID: &s.Tenant, AlertID: &alert, Reason: store.MailOpened,
		Recipients: []string{"it-operations-team@contoso-corporation.example"}, Subject: "Presence Bridge: a monitor must sign in again",
		Body: "…", SentAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	testkit.Exec(t, s.Store.Pool(), `INSERT INTO audit_log (tenant_id, actor, action, detail) VALUES ($1, 'staff:help@vendor.example', 'tenant.verified',
		'{"results": {"pass": 9, "warn": 1, "fail": 1}, "note": "a-long-value-without-any-space-in-it-that-must-wrap-on-a-small-screen-0123456789"}')`, s.Tenant)
	shots := testkit.NewScreenshots(t, "console-pages")
	b := testkit.Browser(t)
	testkit.Run(t, b, chromedp.Navigate(s.URL+"/console/"), chromedp.WaitVisible("#sign-in"),
		chromedp.SendKeys("#email", "help@vendor.example"), chromedp.SendKeys("#password", password),
		chromedp.Click("#sign-in"), chromedp.WaitVisible("#tenants"))

	// An invitation, its link copied.
	testkit.Run(t, b, chromedp.Click("#nav-invitations"), chromedp.WaitVisible("#create-invite"),
		chromedp.SendKeys("#invite-name", "Northwind Traders"), chromedp.SetValue("#invite-ttl", "72h"),
		chromedp.Click("#create-invite"), chromedp.WaitVisible("#invite-link"))
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(b, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: name}, Setting: cdpbrowser.PermissionSettingGranted, Origin: s.URL}); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Run(t, b, chromedp.WaitVisible("#copy-invite"), chromedp.Click("#copy-invite"),
		chromedp.Poll[chromedp.Void](`document.querySelector(".copy-status").textContent !== ""`))
	clip, err := chromedp.Run(b, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if link := testkit.Value(t, b, "#invite-link"); clip != link || !strings.HasPrefix(link, productURL+"/onboarding/i/") {
		t.Errorf("the clipboard holds %q, want the invitation link %q", clip, link)
	}
	s.openInvite(clip, "Northwind Traders")
	if got := testkit.Text(t, b, "#invites"); !strings.Contains(got, "Northwind Traders") || !strings.Contains(got, "in force") {
		t.Errorf("the invitations in force: %q", got)
	}
	shots.Take(b, "01-invitation")

	// The alerts of every tenant, with the mail sent.
	testkit.Run(t, b, chromedp.Click("#nav-alerts"), chromedp.WaitVisible("#alerts"))
	if got := testkit.Text(t, b, "#alerts"); !strings.Contains(got, "1 mail sent") || !strings.Contains(got, "it-operations-team@contoso-corporation.example") {
		t.Errorf("the alerts: %q", got)
	}
	shots.Take(b, "02-alerts")

	// The audit log, staff only.
	testkit.Run(t, b, chromedp.Click("#nav-audit"), chromedp.WaitVisible("#audit"), chromedp.SetValue("#actor", "staff"),
		chromedp.Click("#filter"), chromedp.WaitVisible(`#actor[value="staff"]`))
	got := testkit.Text(t, b, "#audit")
	if !strings.Contains(got, "tenant.verified") || !strings.Contains(got, "staff.signed_in") || strings.Contains(got, "system") {
		t.Errorf("the audit log of staff: %q", got)
	}
	shots.Take(b, "03-audit")

	// A viewer: the same pages, no button.
	testkit.Run(t, b, chromedp.Click("#sign-out"), chromedp.WaitVisible("#sign-in"),
		chromedp.SendKeys("#email", "look@vendor.example"), chromedp.SendKeys("#password", password),
		chromedp.Click("#sign-in"), chromedp.WaitVisible("#tenants"),
		chromedp.Navigate(s.URL+"/console/tenants/"+s.Tenant.String()+"/support/"), chromedp.WaitVisible("#lifecycle"))
	for page, ids := range map[string][]string{
		"/console/tenants/" + s.Tenant.String() + "/support/": {"#suspend", "#delete", "#resume", "#password-toggle", ".reinvite"},
		"/console/invitations/":                               {"#create-invite", ".revoke-invite", ".reinvite"},
	} {
		testkit.Run(t, b, chromedp.Navigate(s.URL+page), chromedp.WaitVisible("h1"))
		for _, id := range ids {
			if n, err := chromedp.Run(b, chromedp.Evaluate[int](`document.querySelectorAll("`+id+`").length`)); err != nil || n != 0 {
				t.Errorf("%s offers a viewer %s (%d, %v)", page, id, n, err)
			}
		}
	}
	shots.Take(b, "04-viewer-invitations")
}
