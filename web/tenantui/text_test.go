package tenantui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"presencebridge/internal/testkit"
	"presencebridge/web/portal/portaltest"
)

// storedRows counts the rows a form of these pages could have written.
func storedRows(t *testing.T, p *portaltest.Portal) int {
	t.Helper()
	var n int
	err := p.Store.Pool().QueryRow(t.Context(), `SELECT
		(SELECT count(*) FROM audit_log) + (SELECT count(*) FROM api_keys) + (SELECT count(*) FROM endpoints) +
		(SELECT count(*) FROM directory_users) + (SELECT count(*) FROM monitors) + (SELECT count(*) FROM portal_admins) +
		(SELECT count(*) FROM mapping_rules) + (SELECT count(*) FROM presence_resync)`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Text the database cannot store — a NUL, bytes that are not UTF-8 — in
// any field of the tenant pages' forms shows the form again with what is
// wrong (422), and stores nothing; in a page's address it is 400. Before,
// the database refused it and the page was a 500.
func TestATenantPageFormHoldingANulOrBytesNotUTF8ShowsTheFormAgainAndStoresNothing(t *testing.T) {
	p, b := signedIn(t)
	useOwnApp(t, p, time.Now().AddDate(0, 6, 0))
	rx := testkit.NewWebhookReceiver(t)
	hook, _ := addWebhook(t, b, rx.URL)
	rules := func(field, value string) url.Values {
		f := rulesForm(nil)
		f.Set(field, value)
		return f
	}
	for _, c := range []struct {
		name, path string
		form       url.Values
		status     int
		words      string
	}{
		{"a key's name", "/portal/integration/keys", url.Values{"name": {"wall\x00board"}, "scopes": {"admin"}}, 422, "not text"},
		{"a key's name, not UTF-8", "/portal/integration/keys", url.Values{"name": {"wall\xffboard"}, "scopes": {"admin"}}, 422, "not text"},
		{"a webhook's description", "/portal/integration/webhooks", url.Values{"url": {rx.URL}, "description": {"a\x00b"}}, 422, "not text"},
		{"a webhook's URL, not UTF-8", "/portal/integration/webhooks", url.Values{"url": {rx.URL + "/\xff"}}, 422, "not text"},
		{"a webhook's description changed", hook, url.Values{"url": {rx.URL}, "description": {"a\xffb"}}, 422, "not text"},
		{"a mapping override", "/portal/integration/rules", rules("overrides", "Busy/In\x00ACall = talking"), 422, "Overrides"},
		{"a mapping override, not UTF-8", "/portal/integration/rules", rules("overrides", "Busy/\xff = talking"), 422, "not text"},
		{"users to add", "/portal/users/add", url.Values{"users": {"al\x00an@contoso.example"}}, 422, "not text"},
		{"a user to remove", "/portal/users/remove", url.Values{"upn": {"al\x00an@contoso.example"}}, 303, ""}, // none such
		{"a monitor", "/portal/monitors/", url.Values{"upn": {"mon\x00itor@contoso.example"}}, 422, "Enter the monitor account's user name"},
		{"a monitor, not UTF-8", "/portal/monitors/", url.Values{"upn": {"mon\xffitor@contoso.example"}}, 422, "Enter the monitor account's user name"},
		{"an admin", "/portal/admins/", url.Values{"upn": {"ad\x00min@contoso.example"}}, 422, "not text"},
		{"an admin, not UTF-8", "/portal/admins/", url.Values{"upn": {"ad\xffmin@contoso.example"}}, 422, "not text"},
		{"an app's secret expiry", "/portal/app/", url.Values{"clientId": {"x"}, "tenantId": {"y"}, "clientSecret": {"s\x00"}, "secretExpires": {"2030\x00"}}, 422, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := storedRows(t, p)
			pg := b.Post(c.path, c.form)
			portaltest.WantPage(t, pg, c.status, c.words)
			if after := storedRows(t, p); after != before {
				t.Errorf("%d rows stored", after-before)
			}
		})
	}
	for _, path := range []string{"/portal/users/u/adele%00@contoso.example", "/portal/users/?q=al%00", "/portal/audit/?actor=%FF",
		"/portal/monitors/?after=a%00"} {
		if pg := b.Get(path); pg.Status != http.StatusBadRequest || !strings.Contains(pg.Body, "not text") {
			t.Errorf("GET %s: %d\n%s", path, pg.Status, pg.Body)
		}
	}
}
