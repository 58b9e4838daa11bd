package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/onboarding"
)

// A tenant completes onboarding and, in the first second after its first
// subscription exists, a user joins a call: the change reaches the webhook
// and the event stream from Graph's notification — decrypted with the
// certificate the engine made moments before — not from a repair, and in
// seconds, not at the next minute's certificate reload.
func TestAChangeInTheFirstSecondOfATenantsFirstSubscriptionArrivesByWebhookAndStream(t *testing.T) {
	ctx := t.Context()
	const product = "https://bridge.example.com" // where onboarding's links point; its callbacks are driven here
	sim := graphsim.New(graphsim.Options{})
	var mu sync.Mutex
	var firstSubscription time.Time
	created := make(chan struct{})
	gs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		sim.Handler().ServeHTTP(rec, r)
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/subscriptions") && rec.Code == http.StatusCreated {
			mu.Lock()
			if firstSubscription.IsZero() {
				firstSubscription = time.Now()
				close(created)
			}
			mu.Unlock()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(gs.Close)
	sim.SetBaseURL(gs.URL)
	go sim.Run(ctx)
	seed := graphsim.GenerateSeed(1, 3, 2, 41)
	seed.App.RedirectURIs = []string{product + "/onboarding/consent/callback", product + "/onboarding/monitors/callback"}
	seed.Tenants[0].Consented = false
	if err := sim.Apply(seed); err != nil {
		t.Fatal(err)
	}
	ten := seed.Tenants[0]

	// The telephony platform's webhook receiver.
	type delivery struct {
		body   []byte
		header http.Header
		at     time.Time
	}
	hooks := make(chan delivery, 100)
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hooks <- delivery{b, r.Header.Clone(), time.Now()}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(platform.Close)

	// The product, as deployed: one serve process with the engine. The
	// periodic repair is an hour away, so only a notification can bring
	// the change within the test.
	dsn := freshDatabase(t, "first_second")
	proc := startServe(t, dsn, gs.URL, seed.App)
	base := proc.waitReady(t, 30*time.Second)

	// Onboarding, through the services its pages call, on the product's
	// database: invitation, form, consent, two monitors signed in, done.
	svc, pool := onboardingOn(t, dsn, gs.URL, product, seed.App)
	tenant := onboard(t, svc, ten, platform.URL+"/presence")
	apiKey, err := svc.NewAPIKey(ctx, tenant, "platform", "admin")
	if err != nil {
		t.Fatal(err)
	}
	secret, err := svc.SigningSecret(ctx, tenant, platform.URL+"/presence", "admin")
	if err != nil {
		t.Fatal(err)
	}
	adele := ten.Users[0]
	streamed := streamUntil(t, base+"/api/v1/events", apiKey, func(data string) bool {
		return strings.Contains(data, adele.ID.String()) && strings.Contains(data, `"InACall"`)
	})

	// The engine's pass that creates the subscriptions also re-reads
	// everyone's presence (the gap before a subscription exists): the
	// call starts once that pass is over, or the re-read might see it.
	select {
	case <-created:
	case <-time.After(30 * time.Second):
		t.Fatalf("no subscription created at graphsim; output:\n%s", proc.log())
	}
	mu.Lock()
	first := firstSubscription
	mu.Unlock()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var done bool
		if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM engine_tenants WHERE tenant_id = $1 AND updated_at > $2)`,
			tenant, first).Scan(&done); err != nil {
			t.Fatal(err)
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the engine's pass did not end; output:\n%s", proc.log())
		}
	}
	joined := time.Now()
	if err := sim.SetTeamsPresence(adele.ID, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	if d := joined.Sub(first); d > time.Second {
		t.Fatalf("the call started %v after the first subscription, not within the first second", d)
	}
	t.Logf("the call started %v after the first subscription existed", joined.Sub(first).Round(time.Millisecond))

	// Well before the minute the certificates used to wait for.
	const within = 10 * time.Second
	var hook delivery
	for found := false; !found; {
		select {
		case hook = <-hooks:
			found = strings.Contains(string(hook.body), adele.ID.String()) && strings.Contains(string(hook.body), `"InACall"`)
		case <-time.After(within):
			t.Fatalf("no webhook for the call within %v; output:\n%s", within, proc.log())
		}
	}
	wh, _ := standardwebhooks.NewWebhook(secret)
	if err := wh.Verify(hook.body, hook.header); err != nil {
		t.Errorf("the webhook does not verify: %v", err)
	}
	select {
	case at := <-streamed:
		t.Logf("webhook %v and event stream %v after the call started", hook.at.Sub(joined).Round(time.Millisecond), at.Sub(joined).Round(time.Millisecond))
	case <-time.After(within):
		t.Fatalf("no stream event for the call within %v; output:\n%s", within, proc.log())
	}
	var source string
	if err := pool.QueryRow(ctx, `SELECT source FROM presence_events WHERE tenant_id = $1 AND user_object_id = $2 AND activity = 'InACall'`,
		tenant, adele.ID).Scan(&source); err != nil || source != "notification" {
		t.Errorf("the call's event came from %q (%v), want the notification", source, err)
	}
	// Nothing was dropped on the way, and /metrics says so.
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(metrics), `presencebridge_notification_items_dropped_total{reason="unknown_certificate"} 0`) {
		t.Errorf("/metrics does not show zero items dropped for an unknown certificate")
	}
	for _, line := range strings.Split(string(metrics), "\n") {
		if strings.HasPrefix(line, "presencebridge_notification_items_") && !strings.HasSuffix(line, " 0") {
			t.Errorf("/metrics: %s", line)
		}
	}
	// The call was applied: the processors count what they made of changes.
	if applied := `presencebridge_presence_changes_total{outcome="applied"} `; !strings.Contains(string(metrics), applied) ||
		strings.Contains(string(metrics), applied+"0\n") {
		t.Errorf("/metrics counts no applied change:\n%s", metrics)
	}
}

// startServe runs the product as deployed — one serve process with the
// engine, passing over tenants every second; the periodic repair an hour
// away, so that only notifications bring changes within a test — on the
// database dsn, with Microsoft at simURL and our app registered there.
func startServe(t *testing.T, dsn, simURL string, app graphsim.SeedApp) *process {
	t.Helper()
	return startProcess(t, []string{"PB_ENV=development", testKey, "PB_DATABASE_URL=" + dsn,
		"PB_LOGIN_BASE_URL=" + simURL, "PB_GRAPH_BASE_URL=" + simURL, "PB_MS_CLIENT_ID=" + app.ClientID,
		"PB_MS_CLIENT_SECRET=" + app.ClientSecret, "PB_ENGINE_INTERVAL=1s", "PB_REPAIR_INTERVAL=1h"}, "serve")
}

// onboard takes the seeded tenant from an invitation to active with its
// users, a webhook and both monitors signed in, as its administrator would.
func onboard(t *testing.T, svc *onboarding.Service, ten graphsim.SeedTenant, webhook string) uuid.UUID {
	t.Helper()
	var users []string
	for i, u := range ten.Users {
		users = append(users, u.UPN+",ext-"+string(rune('0'+i)))
	}
	return onboardWith(t, svc, ten, onboarding.Form{Company: "Contoso Ltd", MicrosoftTenant: ten.Domain, AdminEmail: "it@contoso.example",
		TelephonyAccount: "acct-42", Users: strings.Join(users, "\n"), EventTarget: "webhook", WebhookURL: webhook})
}

// streamUntil follows the tenant's event stream from its start and
// reports when an event's data satisfies match.
func streamUntil(t *testing.T, url, apiKey string, match func(data string) bool) <-chan time.Time {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("event stream: status %d", resp.StatusCode)
	}
	found := make(chan time.Time, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && match(data) {
				found <- time.Now()
				return
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return found
}
