// Package e2e holds end-to-end tests: graphsim (Microsoft Graph and the
// identity platform) on one side, Presence Bridge's notification path on
// the other, a real PostgreSQL between them, all over HTTP on loopback.
package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"presencebridge/internal/certs"
	"presencebridge/internal/deliver"
	"presencebridge/internal/graphsim"
	"presencebridge/internal/identity"
	"presencebridge/internal/intake"
	"presencebridge/internal/keycache"
	"presencebridge/internal/notification"
	"presencebridge/internal/presence"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/stream"
	"presencebridge/internal/testkit"
	"presencebridge/web/api"
	"presencebridge/web/graphhook"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// platform is the telephony platform's webhook receiver.
type platform struct {
	srv    *httptest.Server
	secret string
	mu     sync.Mutex
	got    []received
	ch     chan struct{}
}

type received struct {
	body   []byte
	header http.Header
	event  presence.Event
}

func newPlatform(t *testing.T) *platform {
	p := &platform{ch: make(chan struct{}, 100)}
	p.secret, _ = deliver.NewSecret()
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ev presence.Event
		json.Unmarshal(b, &ev)
		p.mu.Lock()
		p.got = append(p.got, received{b, r.Header.Clone(), ev})
		p.mu.Unlock()
		p.ch <- struct{}{}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *platform) wait(t *testing.T, n int) []received {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		p.mu.Lock()
		got := append([]received{}, p.got...)
		p.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-p.ch:
		case <-deadline:
			t.Fatalf("the platform received %d webhooks, want %d", len(got), n)
		}
	}
}

type world struct {
	sim      *graphsim.Sim
	simURL   string
	seed     graphsim.Seed
	pool     *pgxpool.Pool
	st       *store.Store
	bridge   *httptest.Server
	tenant   uuid.UUID
	apiKey   string
	platform *platform
}

// newWorld starts graphsim, the bridge's notification path (receiver,
// processor, deliverer, event stream) and a platform receiver, with one
// tenant connected, and a presence subscription created by its monitor.
func newWorld(t *testing.T) *world {
	t.Helper()
	pool := testkit.DB(t)
	// Cancelled before the pool closes (cleanups run last-first): the
	// stream's LISTEN connection must be released for Close to return.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w := &world{sim: graphsim.New(graphsim.Options{}), pool: pool}
	var err error
	if w.simURL, err = w.sim.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	w.seed = graphsim.GenerateSeed(1, 3, 1, 77)
	if err := w.sim.Apply(w.seed); err != nil {
		t.Fatal(err)
	}
	ten := w.seed.Tenants[0]

	// The bridge.
	w.st = storetest.Open(t, w.pool)
	cm := certs.New(w.st, nil)
	cert, err := cm.Active(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys := notification.NewKeys()
	if err := cm.Load(ctx, keys); err != nil {
		t.Fatal(err)
	}
	validator, err := notification.NewValidator(ctx, notification.ValidatorOptions{LoginURL: w.simURL, Audiences: []string{w.seed.App.ClientID}})
	if err != nil {
		t.Fatal(err)
	}
	hub := stream.NewHub(w.st, nil)
	go hub.Run(ctx)
	committer := intake.NewCommitter(w.pool, intake.CommitterOptions{})
	go committer.Run(ctx)
	proc := intake.NewProcessor(w.st, intake.ProcessorOptions{Keys: keys, Tokens: validator})
	inbox, _ := hub.SubscribeInbox()
	go func() {
		for {
			if _, err := proc.Drain(ctx); err != nil && ctx.Err() == nil {
				t.Logf("processor: %v", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-inbox:
			case <-time.After(time.Second):
			}
		}
	}()
	go presence.RunPublisher(ctx, w.st, slog.New(slog.DiscardHandler))
	changes, _ := hub.SubscribeChanges()
	go deliver.New(w.st, deliver.Options{AllowPrivate: true, Wake: changes}).Run(ctx, time.Second)
	r := chi.NewRouter()
	r.Route("/graph", graphhook.New(graphhook.Deps{Subs: w.st, Committer: committer}).Routes)
	apiKeys := keycache.New(w.st, keycache.Options{})
	go apiKeys.Run(ctx)
	r.Route("/api/v1", api.Routes(api.Deps{Store: w.st, Keys: apiKeys, Subscribe: hub.Subscribe, Heartbeat: time.Second}))
	w.bridge = httptest.NewServer(r)
	t.Cleanup(w.bridge.Close)

	// The tenant as onboarding leaves it.
	w.platform = newPlatform(t)
	if err := w.pool.QueryRow(ctx, `INSERT INTO tenants (name, ms_tenant_id, status) VALUES ('Contoso', $1, 'active') RETURNING id`, ten.ID).Scan(&w.tenant); err != nil {
		t.Fatal(err)
	}
	for i, u := range ten.Users {
		testkit.Exec(t, w.pool, `INSERT INTO directory_users (tenant_id, upn, object_id, external_id, resolution_status) VALUES ($1, $2, $3, $4, 'resolved')`,
			w.tenant, u.UPN, u.ID, fmt.Sprintf("ext-%d", i))
	}
	if _, err := w.st.CreateEndpoint(ctx, w.tenant, w.platform.srv.URL, w.platform.secret); err != nil {
		t.Fatal(err)
	}
	if w.apiKey, _, err = w.st.CreateAPIKey(ctx, w.tenant, store.NewAPIKey{Name: "platform", Scopes: store.AllScopes}); err != nil {
		t.Fatal(err)
	}
	mon, err := w.st.AddMonitor(ctx, w.tenant, ten.Monitors[0].UPN)
	if err != nil {
		t.Fatal(err)
	}

	// The monitor's subscription: recorded first (Graph may notify before
	// its id is known), then created at Graph.
	idc, _ := identity.New(identity.Options{LoginURL: w.simURL})
	g, err := idc.PasswordOnce(ctx, identity.App{ClientID: w.seed.App.ClientID, ClientSecret: w.seed.App.ClientSecret},
		ten.ID.String(), ten.Monitors[0].UPN, ten.Monitors[0].Password)
	if err != nil {
		t.Fatal(err)
	}
	clientState := uuid.NewString() + uuid.NewString()
	var subRow uuid.UUID
	if err := w.pool.QueryRow(ctx, `INSERT INTO subscriptions (tenant_id, monitor_id, resource, client_state_hash, cert_key_id)
		VALUES ($1, $2, 'pending', $3, $4) RETURNING id`, w.tenant, mon.ID, store.ClientStateHash(clientState), cert.ID).Scan(&subRow); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range ten.Users {
		ids = append(ids, "'"+u.ID.String()+"'")
	}
	body, _ := json.Marshal(map[string]any{
		"changeType": "updated", "resource": "/communications/presences?$filter=id in (" + strings.Join(ids, ",") + ")",
		"notificationUrl": w.bridge.URL + "/graph/notifications", "lifecycleNotificationUrl": w.bridge.URL + "/graph/lifecycle",
		"expirationDateTime": time.Now().Add(50 * time.Minute).UTC().Format(time.RFC3339), "clientState": clientState,
		"includeResourceData": true, "encryptionCertificate": base64.StdEncoding.EncodeToString(cert.Certificate.Raw),
		"encryptionCertificateId": cert.ID,
	})
	req, _ := http.NewRequestWithContext(ctx, "POST", w.simURL+"/v1.0/subscriptions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+g.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sub struct {
		ID string `json:"id"`
	}
	json.NewDecoder(resp.Body).Decode(&sub)
	if resp.StatusCode != http.StatusCreated || sub.ID == "" {
		t.Fatalf("create subscription at graphsim: %d", resp.StatusCode)
	}
	if _, err := w.pool.Exec(ctx, `UPDATE subscriptions SET graph_id = $2 WHERE id = $1`, subRow, sub.ID); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestAUserJoinsACallAndTheSignedWebhookArrives(t *testing.T) {
	w := newWorld(t)
	adele := w.seed.Tenants[0].Users[0]
	if err := w.sim.SetTeamsPresence(adele.ID, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	got := w.platform.wait(t, 1)
	wh, _ := standardwebhooks.NewWebhook(w.platform.secret)
	if err := wh.Verify(got[0].body, got[0].header); err != nil {
		t.Fatalf("Standard Webhooks verification: %v", err)
	}
	ev := got[0].event
	if ev.Type != "presence.changed" || ev.Data.State != "talking" || ev.Data.Availability != "Busy" || ev.Data.Activity != "InACall" ||
		ev.Data.User.ObjectID != adele.ID || ev.Data.User.UPN != adele.UPN || ev.Data.User.TelephonyID != "ext-0" || ev.Data.Sequence != 1 {
		t.Errorf("event = %s", got[0].body)
	}
	// The call ends: the next change follows, in order.
	w.sim.SetTeamsPresence(adele.ID, "Available", "Available")
	got = w.platform.wait(t, 2)
	if got[1].event.Data.State != "available" || got[1].event.Data.Sequence != 2 {
		t.Errorf("second event = %s", got[1].body)
	}
}

// sseRead connects to the event stream and returns the first n events
// and the last event id seen.
func (w *world) sseRead(t *testing.T, lastID string, n int, during func()) ([]presence.Event, string) {
	t.Helper()
	var out []presence.Event
	id := lastID
	for _, e := range testkit.ReadSSE(t, w.bridge.URL+"/api/v1/events", w.apiKey, lastID, n, 20*time.Second, during) {
		var ev presence.Event
		if err := json.Unmarshal(e.Data, &ev); err != nil {
			t.Fatalf("event %q: %v", e.Data, err)
		}
		out, id = append(out, ev), e.ID
	}
	return out, id
}

func TestTheSameChangesOnTheEventStreamWithResume(t *testing.T) {
	w := newWorld(t)
	users := w.seed.Tenants[0].Users
	evs, last := w.sseRead(t, "", 1, func() {
		time.Sleep(300 * time.Millisecond)
		w.sim.SetTeamsPresence(users[0].ID, "Busy", "InACall")
	})
	if evs[0].Data.User.ObjectID != users[0].ID || evs[0].Data.State != "talking" {
		t.Fatalf("live event = %+v", evs[0])
	}
	// Disconnected: two more changes happen meanwhile.
	w.sim.SetTeamsPresence(users[1].ID, "DoNotDisturb", "Presenting")
	w.sim.SetTeamsPresence(users[0].ID, "Away", "Away")
	w.platform.wait(t, 3) // both processed
	if _, err := strconv.ParseInt(last, 10, 64); err != nil {
		t.Fatalf("no event id: %q", last)
	}
	resumed, _ := w.sseRead(t, last, 2, nil)
	if resumed[0].Data.User.ObjectID != users[1].ID || resumed[0].Data.Activity != "Presenting" ||
		resumed[1].Data.User.ObjectID != users[0].ID || resumed[1].Data.State != "away" {
		t.Errorf("resumed events = %+v", resumed)
	}
}

// TestATalkingFlapReachesBothChannelsAsTheSameEvents: a call, a moment of
// Available and the call again within the debounce window reach the
// event stream and the webhooks as one talking period; the change that
// then really ends the call arrives on both after the window, with the
// next sequence (no gap) and the same event id on both channels.
func TestATalkingFlapReachesBothChannelsAsTheSameEvents(t *testing.T) {
	w := newWorld(t)
	adele := w.seed.Tenants[0].Users[0]
	set := func(avail, act string) {
		if err := w.sim.SetTeamsPresence(adele.ID, avail, act); err != nil {
			t.Error(err)
		}
		time.Sleep(150 * time.Millisecond)
	}
	start := time.Now()
	raw := testkit.ReadSSE(t, w.bridge.URL+"/api/v1/events", w.apiKey, "", 2, 20*time.Second, func() {
		set("Busy", "InACall")
		set("Available", "Available") // held: leaves talking
		set("Busy", "InACall")        // talking again within 3 s: neither goes out
		set("Away", "Away")           // really leaves: out after the window
	})
	stream := make([]presence.Event, len(raw))
	for i, e := range raw {
		if err := json.Unmarshal(e.Data, &stream[i]); err != nil {
			t.Fatalf("event %q: %v", e.Data, err)
		}
	}
	if took := time.Since(start); took < 3*time.Second {
		t.Errorf("the change leaving talking arrived after %v, before the 3 s debounce window ended", took)
	}
	var hooks []presence.Event
	for i, r := range w.platform.wait(t, 2) {
		hooks = append(hooks, r.event)
		// One event builder: the same bytes on both channels.
		if !bytes.Equal(r.body, raw[i].Data) {
			t.Errorf("event %d differs by channel:\nwebhook %s\nstream  %s", i, r.body, raw[i].Data)
		}
		if r.header.Get("webhook-id") != r.event.Data.EventID.String() {
			t.Errorf("webhook-id %q is not the event id %s", r.header.Get("webhook-id"), r.event.Data.EventID)
		}
	}
	time.Sleep(500 * time.Millisecond) // anything more would have been sent by now
	w.platform.mu.Lock()
	extra := len(w.platform.got) - 2
	w.platform.mu.Unlock()
	if extra != 0 {
		t.Errorf("the platform received %d webhooks more than the stream's 2", extra)
	}
	want := []struct {
		activity string
		seq      int64
	}{{"InACall", 1}, {"Away", 2}}
	for i, wnt := range want {
		s, h := stream[i].Data, hooks[i].Data
		if s.Activity != wnt.activity || s.Sequence != wnt.seq {
			t.Errorf("stream event %d = %s #%d, want %s #%d", i, s.Activity, s.Sequence, wnt.activity, wnt.seq)
		}
		if s.EventID != h.EventID || s.Sequence != h.Sequence || s.Activity != h.Activity || !stream[i].Timestamp.Equal(hooks[i].Timestamp) {
			t.Errorf("event %d differs by channel: stream %+v, webhook %+v", i, stream[i], hooks[i])
		}
	}
	var suppressed int
	w.pool.QueryRow(context.Background(), `SELECT count(*) FROM presence_events WHERE suppressed = 'debounce'`).Scan(&suppressed)
	if suppressed != 2 {
		t.Errorf("%d events kept as suppressed by the debounce, want 2 (the flap's Available and InACall)", suppressed)
	}
}
