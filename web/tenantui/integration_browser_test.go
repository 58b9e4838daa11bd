package tenantui_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
	"presencebridge/web/portal/portaltest"
)

// TestAnAdminRotatesAWebhookSecretAndRevokesAnAPIKeyInABrowser is issue
// 13's acceptance walk for Integration: an admin signs in to the portal,
// adds a webhook (its secret shown once), rotates its secret and sees the
// next delivery verify with the new one, creates an API key and revokes
// it and sees it refused, and changes a mapping rule, the live preview
// following before it is saved. Captured at 1280 and 375 px, neither
// scrolling sideways.
func TestAnAdminRotatesAWebhookSecretAndRevokesAnAPIKeyInABrowser(t *testing.T) {
	p := portaltest.New(t)
	rx := testkit.NewWebhookReceiver(t)
	shots := testkit.NewScreenshots(t, "portal-integration")
	b := testkit.Browser(t)
	if err := p.SignInBrowser(b, p.Seed.Tenants[0].Admin); err != nil {
		t.Fatal(err)
	}
	testkit.Run(t, b, chromedp.Click("#nav-integration"), chromedp.WaitVisible("#add-webhook"))
	shots.Take(b, "01-integration")

	testkit.Run(t, b, chromedp.SetValue("#webhook-url", "http://events.example.com/presence"), chromedp.Click("#add-webhook-submit"),
		chromedp.WaitVisible("#url-error"))
	shots.Take(b, "02-webhook-refused")
	testkit.Run(t, b, chromedp.SetValue("#webhook-url", rx.URL), chromedp.Click("#add-webhook-submit"), chromedp.WaitVisible("#signing-secret"))
	oldSecret := testkit.Value(t, b, "#signing-secret")
	shots.Take(b, "03-webhook-added")

	noSecret := func(after string) {
		t.Helper()
		testkit.Run(t, b, chromedp.Reload(), chromedp.WaitVisible("#rotate-secret"))
		if n, _ := chromedp.Run(b, chromedp.Evaluate[int](`document.querySelectorAll("#signing-secret").length`)); n != 0 {
			t.Errorf("the secret shows again after %s and a reload", after)
		}
	}
	noSecret("adding")
	testkit.Run(t, b, chromedp.SetValue("#overlap", "3600"), chromedp.Click("#rotate-secret"), chromedp.WaitVisible("#signing-secret"))
	newSecret := testkit.Value(t, b, "#signing-secret")
	if !strings.HasPrefix(newSecret, "whsec_") || newSecret == oldSecret {
		t.Fatalf("after rotating the page shows %q", newSecret)
	}
	shots.Take(b, "04-secret-rotated")
	noSecret("rotating")
	publish(t, p.Store, p.Tenant.ID)
	deliverOne(t, p.Store)
	if !rx.LastVerifies(t, newSecret) {
		t.Error("the next delivery does not verify with the new secret")
	}
	testkit.Run(t, b, chromedp.Reload(), chromedp.WaitVisible("#deliveries"))
	shots.Take(b, "05-delivered")

	testkit.Run(t, b, chromedp.Click("#nav-integration"), chromedp.WaitVisible("#create-key"),
		chromedp.SetValue("#key-name", "contact center"), chromedp.Click("#scope-presence\\:read"), chromedp.Click("#create-key"),
		chromedp.WaitVisible("#new-api-key"))
	key := testkit.Value(t, b, "#new-api-key")
	if _, err := p.Store.AuthenticateAPIKey(t.Context(), key); err != nil {
		t.Fatalf("the key shown does not authenticate: %v", err)
	}
	shots.Take(b, "06-key-created")
	testkit.Run(t, b, chromedp.Click(".revoke-key"), chromedp.WaitVisible(".key-status"))
	if got := testkit.Text(t, b, ".key-status"); got != "revoked" {
		t.Errorf("the key shows as %q after revoking", got)
	}
	if _, err := p.Store.AuthenticateAPIKey(t.Context(), key); !errors.Is(err, store.ErrBadAPIKey) {
		t.Errorf("the revoked key is not refused: %v", err)
	}
	shots.Take(b, "07-key-revoked")

	// The live preview: Busy / InACall stops being talking as the box is
	// unticked, before anything is saved.
	busyInACall := `[...document.querySelectorAll("#preview dt")].find(d => d.textContent === "Busy / InACall").nextElementSibling.textContent`
	testkit.Run(t, b, chromedp.Click("#talkingInCall"), chromedp.Poll[chromedp.Void](busyInACall+` === "busy"`))
	shots.Take(b, "08-rules-preview")
	// The key's revocation left an ok notice on the page: removed first, so
	// the one waited for is the save's (under load the check ran before it).
	testkit.Run(t, b, chromedp.Evaluate[chromedp.Void](`document.querySelectorAll(".notice").forEach(n => n.remove())`),
		chromedp.Click("#save-rules"), chromedp.WaitVisible(".notice.ok"))
	if rules, _ := p.Store.TenantRules(t.Context(), p.Tenant.ID); rules.TalkingInCall {
		t.Error("the rules were not saved")
	}
	shots.Take(b, "09-rules-saved")
}
