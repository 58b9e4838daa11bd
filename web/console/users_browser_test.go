package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"presencebridge/internal/staff"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
	"presencebridge/web/console"
)

// TestAViewerLooksUpAUserAndReadsTheirTimelineAfterACallInABrowser: Adele
// is on Contoso's roster and, by her mail, on Fabrikam's; she joined a
// call and left it. A viewer looks her address up from the Users section,
// picks Contoso's match and reads the timeline of her user page. Captured
// at 1280 and 375 px.
func TestAViewerLooksUpAUserAndReadsTheirTimelineAfterACallInABrowser(t *testing.T) {
	s := newSite(t, console.Limits{})
	pool := s.Store.Pool()
	fabrikam := storetest.Tenant(t, pool, "Fabrikam")
	adele := uuid.New()
	testkit.Exec(t, pool, `UPDATE tenants SET status = 'active' WHERE id = $1`, s.Tenant)
	testkit.Exec(t, pool, `INSERT INTO directory_users (tenant_id, upn, graph_upn, email, display_name, object_id, resolution_status)
		VALUES ($1, 'adele.vance@contoso.example', 'adele.vance@contoso.example', 'adele@vance.example', 'Adele Vance', $3, 'resolved'),
		       ($2, 'adele@vance.example', NULL, NULL, '', NULL, 'pending')`, s.Tenant, fabrikam, adele)
	start := time.Now().Add(-10 * time.Minute)
	for i, p := range []struct{ availability, activity, mapped string }{
		{"Available", "Available", "available"}, {"Busy", "InACall", "talking"}, {"Available", "Available", "available"},
	} {
		err := s.Store.InTx(context.Background(), func(tx store.Tx) error {
			_, _, err := tx.ApplyPresence(t.Context(), store.PresenceChange{TenantID: s.Tenant, UserID: adele, Availability: p.availability,
				Activity: p.activity, MappedState: p.mapped, Source: "notification", ObservedAt: start.Add(time.Duration(i) * time.Minute)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	s.add("look@vendor.example", staff.Viewer)
	shots := testkit.NewScreenshots(t, "console-user-lookup")
	b := testkit.Browser(t)

	testkit.Run(t, b, chromedp.Navigate(s.URL+"/console/"), chromedp.WaitVisible("#sign-in"),
		chromedp.SendKeys("#email", "look@vendor.example"), chromedp.SendKeys("#password", password),
		chromedp.Click("#sign-in"), chromedp.WaitVisible("#tenants"))
	testkit.Run(t, b, chromedp.Click("#nav-users"), chromedp.WaitVisible("#user-q"))
	shots.Take(b, "01-users")
	testkit.Run(t, b, chromedp.SendKeys("#user-q", "Adele@Vance.example"), chromedp.Click("#look-up"),
		chromedp.WaitVisible(`#user-matches[data-q="Adele@Vance.example"]`))
	matches := testkit.Text(t, b, "#user-matches")
	if !strings.Contains(matches, "Contoso") || !strings.Contains(matches, "Fabrikam") || !strings.Contains(matches, "being looked up") {
		t.Fatalf("the matches: %q", matches)
	}
	shots.Take(b, "02-matches")

	testkit.Run(t, b, chromedp.Click(`#user-matches a[href$="/users/u/adele.vance@contoso.example"]`), chromedp.WaitVisible("#timeline"))
	if got := testkit.Text(t, b, "#presence-state"); got != "available" {
		t.Errorf("mapped state %q, want available", got)
	}
	timeline := testkit.Text(t, b, "#timeline")
	if strings.Count(timeline, "→") != 3 || !strings.Contains(timeline, "Busy / InACall → talking") {
		t.Errorf("the timeline does not tell the call:\n%s", timeline)
	}
	if strings.Contains(testkit.Text(t, b, "body"), "Re-sync this user") {
		t.Error("a viewer is offered Re-sync")
	}
	shots.Take(b, "03-timeline")
}
