package tenantui_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"presencebridge/internal/store"
	"presencebridge/web/portal/portaltest"
)

func TestTheAuditLogNamesWhoDidWhatAndPagesNewestFirst(t *testing.T) {
	p := portaltest.New(t)
	ctx := t.Context()
	tid := &p.Tenant.ID
	_, key, err := p.Store.CreateAPIKey(ctx, p.Tenant.ID, store.NewAPIKey{Name: "Telephony", Scopes: []string{"admin"}, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 55 {
		if err := p.Store.Audit(ctx, tid, "system", "monitor.renewed", map[string]any{"n": i}); err != nil {
			t.Fatal(err)
		}
	}
	p.Store.Audit(ctx, tid, "apikey:"+key.ID.String(), "endpoint.created", nil)
	p.Store.Audit(ctx, tid, "staff:ops@vendor.example", "tenant.suspended", nil)
	b := p.Browser()
	admin := p.Seed.Tenants[0].Admin
	b.SignInAs(admin) // portal.signed_in, the newest

	first := b.Get("/portal/audit/")
	portaltest.WantPage(t, first, 200, "portal.signed_in by "+admin.UPN, `endpoint.created by API key "Telephony" (pbk_`+key.Prefix,
		"tenant.suspended by staff:ops@vendor.example", "monitor.renewed by system", `{"n":54}`, "Older entries")
	if strings.Contains(first.Text(), `{"n":7}`) {
		t.Error("the first page shows an entry of the second")
	}
	if i, j := strings.Index(first.Body, "portal.signed_in"), strings.Index(first.Body, "endpoint.created"); i > j {
		t.Error("entries are not newest first")
	}
	older := b.Get(strings.ReplaceAll(older(t, first), "&amp;", "&"))
	portaltest.WantPage(t, older, 200, `{"n":7}`, `{"n":0}`)
	if strings.Contains(older.Text(), `{"n":54}`) || strings.Contains(older.Body, `id="older"`) {
		t.Error("the second page repeats the first or offers a third")
	}
}

func older(t *testing.T, pg portaltest.Page) string {
	t.Helper()
	i := strings.Index(pg.Body, `id="older"`)
	j := strings.LastIndex(pg.Body[:max(i, 0)], `href="`)
	if i < 0 || j < 0 {
		t.Fatalf("no link to older entries:\n%s", pg.Body)
	}
	return pg.Body[j+6 : j+6+strings.Index(pg.Body[j+6:], `"`)]
}

func TestTheAuditLogFiltersByActorActionAndDates(t *testing.T) {
	p := portaltest.New(t)
	ctx := t.Context()
	p.Store.Audit(ctx, &p.Tenant.ID, "system", "monitor.renewed", nil)
	p.Store.Audit(ctx, &p.Tenant.ID, "staff:ops@vendor.example", "tenant.suspended", nil)
	b := p.Browser()
	b.SignInAs(p.Seed.Tenants[0].Admin)
	get := func(q url.Values) portaltest.Page { return b.Get("/portal/audit/?" + q.Encode()) }
	today := time.Now().UTC().Format("2006-01-02")
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")

	for _, c := range []struct {
		q        url.Values
		has, not []string
	}{
		{url.Values{"actor": {"portal"}}, []string{"portal.signed_in"}, []string{"monitor.renewed", "tenant.suspended"}},
		{url.Values{"actor": {"staff"}}, []string{"tenant.suspended"}, []string{"monitor.renewed", "portal.signed_in"}},
		{url.Values{"action": {"monitor."}}, []string{"monitor.renewed"}, []string{"tenant.suspended", "portal.signed_in"}},
		{url.Values{"from": {today}, "to": {today}}, []string{"monitor.renewed", "portal.signed_in"}, nil},
		{url.Values{"from": {tomorrow}}, []string{"No entries."}, []string{"monitor.renewed"}},
	} {
		pg := get(c.q)
		portaltest.WantPage(t, pg, 200, c.has...)
		for _, s := range c.not {
			if strings.Contains(pg.Text(), s) {
				t.Errorf("filter %v shows %s", c.q, s)
			}
		}
	}
	pg := get(url.Values{"from": {"yesterday"}, "actor": {"everyone"}})
	portaltest.WantPage(t, pg, 422, "Check 2 fields below.", "Enter the date as yyyy-mm-dd.", "Choose one of the kinds listed.")
	if !strings.Contains(pg.Body, fmt.Sprintf(`value="%s"`, "yesterday")) {
		t.Error("the filter as typed was lost")
	}
}
