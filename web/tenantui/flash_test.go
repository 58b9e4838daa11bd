package tenantui_test

import (
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// What an action shows once crosses its redirect in the session row, which
// the test reads right after the POST, before the page view takes it out.
func TestTheSessionsTableNeverHoldsAKeyASigningSecretOrACopyURLShownOnceInClear(t *testing.T) {
	p, b := signedIn(t)
	pool := p.Store.Pool()
	// sessionsAfter posts form to path and returns the sessions table as it
	// then is, and the page the browser is sent to.
	sessionsAfter := func(path string, form url.Values, flashKey string) (string, string) {
		t.Helper()
		pg := b.Post(path, form)
		if pg.Status != http.StatusSeeOther {
			t.Fatalf("POST %s: %d\n%s", path, pg.Status, pg.Text())
		}
		sessions := storetest.TableText(t, pool, "sessions")
		if !strings.Contains(sessions, hex.EncodeToString([]byte(flashKey))) {
			t.Fatalf("POST %s left nothing under %s in the session row: this test would prove nothing", path, flashKey)
		}
		return sessions, b.Get(pg.Location).Body
	}

	sessions, page := sessionsAfter("/portal/integration/keys", url.Values{"name": {"platform"}, "scopes": {"presence:read"}},
		"tenantui.integration.flash")
	m := keyRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the new key is not shown:\n%s", page)
	}
	storetest.RequireNotIn(t, "the sessions table after Create API key", sessions, m[1])

	hook, secret := addWebhook(t, b, testkit.NewWebhookReceiver(t).URL)
	sessions, page = sessionsAfter(hook+"/reveal", url.Values{}, "tenantui.integration.flash")
	if !strings.Contains(page, secret) {
		t.Fatalf("Reveal does not show the signing secret:\n%s", page)
	}
	storetest.RequireNotIn(t, "the sessions table after Reveal", sessions, secret)

	m2, err := p.Store.AddMonitor(t.Context(), p.Tenant.ID, p.Seed.Tenants[0].Monitors[0].UPN)
	if err != nil {
		t.Fatal(err)
	}
	b.Get("/portal/monitors/")
	sessions, page = sessionsAfter("/portal/monitors/"+m2.ID.String()+"/link", url.Values{}, "tenantui.monitors")
	i := strings.Index(page, p.Base+"/onboarding/m/")
	if i < 0 {
		t.Fatalf("Copy URL shows no link:\n%s", page)
	}
	storetest.RequireNotIn(t, "the sessions table after Copy URL", sessions, page[i:i+strings.IndexByte(page[i:], '"')])
}
