package tenantui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"presencebridge/internal/activity"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
	"presencebridge/web/portal/portaltest"
)

// traffic records, for tenant, in the hour's whole minutes before this
// one (the figures of the minute in progress are not shown): 60
// notifications, 50 webhooks delivered (48 in 20 ms, 2 in 3 s) and 2
// failed attempts.
func traffic(t *testing.T, st *store.Store, tenant uuid.UUID) {
	t.Helper()
	rec := activity.NewRecorder(st, activity.Options{})
	last := time.Now().Truncate(time.Minute).Add(-time.Second)
	for i := range 60 {
		at := last.Add(-time.Duration(i) * time.Minute)
		rec.Notified(tenant, at)
		if i < 50 {
			latency := 20 * time.Millisecond
			if i%25 == 0 {
				latency = 3 * time.Second
			}
			rec.Delivered(tenant, at, latency)
		}
		if i%30 == 0 {
			rec.Failed(tenant, at)
		}
	}
	if err := rec.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestActivityShowsTheTenantsTrafficAndLatencyAsChartsAndInWords(t *testing.T) {
	p := portaltest.New(t)
	traffic(t, p.Store, p.Tenant.ID)
	traffic(t, p.Store, storetest.Tenant(t, p.Store.Pool(), "Neighbour")) // not this tenant's
	b := p.Browser()
	b.SignInAs(p.Seed.Tenants[0].Admin)

	day := b.Get("/portal/activity/")
	portaltest.WantPage(t, day, 200, "Traffic and latency of this tenant", "in steps of 5 minutes", "Notifications per minute",
		"Failed webhook attempts per minute")
	if n := strings.Count(day.Body, "<path"); n != 4 || !strings.Contains(day.Body, `id="chart-latency"`) || !strings.Contains(day.Body, `role="img"`) {
		t.Errorf("%d lines drawn, want 4 in three charts (notifications, p50 and p99, failures), each an image", n)
	}
	month := b.Get("/portal/activity/?span=30d")
	portaltest.WantPage(t, month, 200, "in steps of 180 minutes")
	unknown := b.Get("/portal/activity/?span=1y")
	for _, c := range []struct {
		page  portaltest.Page
		shows []string
	}{
		{day, []string{`aria-current="page">Last 24 hours`, `id="figure-notifications">60<`, `id="figure-delivered">50<`,
			`id="figure-failed">2<`, `id="figure-latency">p50 21 ms, p99 3 s<`}},
		{month, []string{`aria-current="page">Last 30 days`}}, // to the last whole hour: some of the hour's traffic is after
		{unknown, []string{`aria-current="page">Last 24 hours`}},
	} {
		for _, want := range c.shows {
			if !strings.Contains(c.page.Body, want) {
				t.Errorf("the page lacks %s:\n%s", want, c.page.Text())
			}
		}
	}
}

func TestActivityOfATenantWithoutTrafficSaysSo(t *testing.T) {
	p := portaltest.New(t)
	b := p.Browser()
	b.SignInAs(p.Seed.Tenants[0].Admin)
	pg := b.Get("/portal/activity/?span=1h")
	portaltest.WantPage(t, pg, 200, "No notifications or deliveries in this period.", "nothing delivered")
	if strings.Contains(pg.Body, "<svg") {
		t.Error("charts drawn for a period without traffic")
	}
}

// TestActivityChartsFitAPhoneInABrowser: the charts stretch to the page
// at 1280 and at 375 px, never scrolling sideways.
func TestActivityChartsFitAPhoneInABrowser(t *testing.T) {
	p := portaltest.New(t)
	traffic(t, p.Store, p.Tenant.ID)
	shots := testkit.NewScreenshots(t, "portal-activity")
	b := testkit.Browser(t)
	if err := p.SignInBrowser(b, p.Seed.Tenants[0].Admin); err != nil {
		t.Fatal(err)
	}
	testkit.Run(t, b, chromedp.Click("#nav-activity"), chromedp.WaitVisible("#chart-latency"))
	if got := testkit.Text(t, b, "#figure-notifications"); got != "60" {
		t.Errorf("notifications shown as %q", got)
	}
	shots.Take(b, "01-last-24-hours")
	testkit.Run(t, b, chromedp.Click(`#activity-spans li:first-child a`), chromedp.WaitVisible("#chart-failed"))
	shots.Take(b, "02-last-hour")
}
