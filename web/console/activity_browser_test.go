package console_test

import (
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-chi/chi/v5"

	"presencebridge/internal/activity"
	"presencebridge/internal/certs"
	"presencebridge/internal/deliver"
	"presencebridge/internal/intake"
	"presencebridge/internal/notification"
	"presencebridge/internal/roster"
	"presencebridge/internal/staff"
	"presencebridge/internal/testkit"
	"presencebridge/web/graphhook"
	"presencebridge/web/portal/portaltest"
)

// notificationPath runs the worker role's notification path over p's
// database: graphsim's notifications received (its URL is returned),
// committed to the inbox, processed with graphsim's validation tokens
// checked and its encrypted content read, and delivered to the tenant's
// webhooks; the processor and the deliverer report to counts, as
// cmd/presencebridge's pipeline has them.
func notificationPath(t *testing.T, p *portaltest.Portal, counts *activity.Recorder) string {
	t.Helper()
	ctx := t.Context()
	cm := certs.New(p.Store, nil)
	if _, err := cm.Active(ctx); err != nil { // the certificate the engine's subscriptions will carry
		t.Fatal(err)
	}
	keys := notification.NewKeys()
	if err := cm.Load(ctx, keys); err != nil {
		t.Fatal(err)
	}
	validator, err := notification.NewValidator(ctx, notification.ValidatorOptions{LoginURL: p.SimURL, Audiences: []string{p.Seed.App.ClientID}})
	if err != nil {
		t.Fatal(err)
	}
	committer := intake.NewCommitter(p.Store.Pool(), intake.CommitterOptions{})
	go committer.Run(ctx)
	proc := intake.NewProcessor(p.Store, intake.ProcessorOptions{Keys: keys, Tokens: validator, Activity: counts})
	go func() {
		for ctx.Err() == nil {
			if _, err := proc.Drain(ctx); err != nil && ctx.Err() == nil {
				t.Logf("processor: %v", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	go deliver.New(p.Store, deliver.Options{AllowPrivate: true, Activity: counts}).Run(ctx, 50*time.Millisecond)
	r := chi.NewRouter()
	r.Route("/graph", graphhook.New(graphhook.Deps{Subs: p.Store, Committer: committer}).Routes)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv.URL + "/graph/notifications"
}

// TestStaffReadEveryTenantsActivityRecordedByTheProcessorInABrowser: a
// user of a tenant changes presence six times at Microsoft; each change
// comes through graphsim's notification, the processor and a webhook
// delivered, and is counted as the worker role counts it. A viewer opens
// the console's Activity from its navigation and reads the six
// notifications and deliveries, with their latency charted, over the
// last 24 hours, then over the last hour. Captured at 1280 and 375 px.
func TestStaffReadEveryTenantsActivityRecordedByTheProcessorInABrowser(t *testing.T) {
	ctx := t.Context()
	p := portaltest.New(t)
	ten := p.Seed.Tenants[0]
	p.AuthorizeMonitor(t, ten.Monitors[0])
	adele := ten.Users[0]
	if _, err := roster.New(p.Store).Import(ctx, p.Tenant.ID, []roster.Entry{{UPN: adele.UPN}}, roster.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	counts := activity.NewRecorder(p.Store, activity.Options{})
	p.EnginePassNotifying(t, notificationPath(t, p, counts))
	rx := testkit.NewWebhookReceiver(t)
	if _, err := p.Store.CreateEndpoint(ctx, p.Tenant.ID, rx.URL, "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ="); err != nil {
		t.Fatal(err)
	}
	const changes = 6
	for i := range changes {
		// Not in a call: leaving talking is held for the tenant's debounce
		// window, which is not what this test is about.
		presence := [][2]string{{"Busy", "Busy"}, {"Away", "Away"}}[i%2]
		if err := p.Sim.SetTeamsPresence(adele.ID, presence[0], presence[1]); err != nil {
			t.Fatal(err)
		}
		// graphsim's notifications go out as its Run would send them.
		for deadline := time.Now().Add(20 * time.Second); rx.Count() <= i; time.Sleep(20 * time.Millisecond) {
			p.Sim.TickNotifications()
			if time.Now().After(deadline) {
				var events, deliveries int
				p.Store.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM presence_events), (SELECT count(*) FROM deliveries)`).Scan(&events, &deliveries)
				t.Fatalf("change %d never reached the webhook (%d arrived; %d events, %d deliveries; graphsim %+v)", i+1, rx.Count(), events, deliveries, p.Sim.NotificationStats())
			}
		}
	}
	// The processor counts a batch once it commits, which may be just
	// after its webhook arrived: written until every count is in.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := counts.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		s, err := activity.OverallSeries(ctx, p.Store, activity.SpanOf("1h"), time.Now().Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if s.Total.Notifications == changes && s.Total.Delivered == changes {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recorded %d notifications and %d deliveries, want %d of each", s.Total.Notifications, s.Total.Delivered, changes)
		}
	}
	// The charts show whole minutes: the one these changes fell in ends.
	time.Sleep(time.Until(time.Now().Truncate(time.Minute).Add(time.Minute + time.Second)))

	accounts := staff.New(p.Store, staff.Options{})
	if _, err := accounts.Add(ctx, "look@vendor.example", "", staff.Viewer, password, "staff:test"); err != nil {
		t.Fatal(err)
	}
	base := consoleBeside(t, p, accounts)
	shots := testkit.NewScreenshots(t, "console-activity")
	b := testkit.Browser(t)
	testkit.Run(t, b, chromedp.Navigate(base+"/console/"), chromedp.WaitVisible("#sign-in"),
		chromedp.SendKeys("#email", "look@vendor.example"), chromedp.SendKeys("#password", password),
		chromedp.Click("#sign-in"), chromedp.WaitVisible("#tenants"),
		chromedp.Click("#nav-activity"), chromedp.WaitVisible("#chart-latency"))
	want := strconv.Itoa(changes)
	check := func(span string) {
		t.Helper()
		if got := testkit.Text(t, b, `#activity-spans a[aria-current="page"]`); got != span {
			t.Errorf("the span shown is %q, want %q", got, span)
		}
		for id, w := range map[string]string{"#figure-notifications": want, "#figure-delivered": want, "#figure-failed": "0"} {
			if got := testkit.Text(t, b, id); got != w {
				t.Errorf("%s: %s shows %q, want %q", span, id, got, w)
			}
		}
		for _, chart := range []string{"#chart-notifications", "#chart-latency", "#chart-failed"} {
			n, err := chromedp.Run(b, chromedp.Evaluate[int](`document.querySelectorAll("`+chart+` path.line").length`))
			if err != nil || n == 0 {
				t.Errorf("%s: %s draws no line (%v)", span, chart, err)
			}
		}
	}
	check("Last 24 hours")
	shots.Take(b, "01-last-24-hours")
	testkit.Run(t, b, chromedp.Click(`#activity-spans li:first-child a`), chromedp.WaitVisible(`#activity-spans li:first-child a[aria-current="page"]`),
		chromedp.WaitVisible("#chart-latency"))
	check("Last hour")
	shots.Take(b, "02-last-hour")
}
