package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/keycache"
	"presencebridge/internal/presence"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/stream"
	"presencebridge/internal/testkit"
	"presencebridge/web/api/apitest"
)

func TestMain(m *testing.M) { testkit.Main(m) }

type fixture struct {
	st     *store.Store
	srv    *httptest.Server
	tenant uuid.UUID
	key    string
	keys   *keycache.Cache // the server's
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{}
	f.st, f.tenant = storetest.New(t)
	pool := f.st.Pool()
	ctx := context.Background()
	var err error
	if f.key, _, err = f.st.CreateAPIKey(ctx, f.tenant, store.NewAPIKey{Name: "platform", Scopes: store.AllScopes}); err != nil {
		t.Fatal(err)
	}
	hub := stream.NewHub(f.st, nil)
	hctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go hub.Run(hctx)
	f.keys = runningKeys(t, f.st)
	r := chi.NewRouter()
	r.Route("/api/v1", Routes(Deps{Store: f.st, Keys: f.keys, Subscribe: hub.Subscribe, Heartbeat: 200 * time.Millisecond}))
	f.srv = httptest.NewServer(apitest.Described(t, r))
	t.Cleanup(f.srv.Close)
	storetest.RequireNotStored(t, pool, f.key)
	return f
}

func (f *fixture) change(t *testing.T, user uuid.UUID, activity string) {
	t.Helper()
	err := f.st.InTx(context.Background(), func(tx store.Tx) error {
		_, _, err := tx.ApplyPresence(context.Background(), store.PresenceChange{TenantID: f.tenant, UserID: user,
			Availability: "Busy", Activity: activity, MappedState: "talking", Source: "notification", ObservedAt: time.Now()})
		if err != nil {
			return err
		}
		return tx.NotifyPresence(context.Background(), f.tenant)
	})
	if err != nil {
		t.Fatal(err)
	}
}

type sse struct {
	id    int64
	event presence.Event
}

// read connects and collects n events (or fails after a timeout).
func (f *fixture) read(t *testing.T, lastID string, n int, during func()) []sse {
	t.Helper()
	var out []sse
	for _, e := range testkit.ReadSSE(t, f.srv.URL+"/api/v1/events", f.key, lastID, n, 10*time.Second, during) {
		var s sse
		s.id, _ = strconv.ParseInt(e.ID, 10, 64)
		if err := json.Unmarshal(e.Data, &s.event); err != nil || s.id == 0 {
			t.Fatalf("event %q: %v", e.Data, err)
		}
		out = append(out, s)
	}
	return out
}

func TestStreamReplaysThenFollowsLiveAndResumes(t *testing.T) {
	f := newFixture(t)
	u := uuid.New()
	f.change(t, u, "InACall")
	f.change(t, u, "InAMeeting")
	// Two stored (read from the start of the stream, id 0), one committed
	// while connected.
	got := f.read(t, "0", 3, func() {
		time.Sleep(300 * time.Millisecond)
		f.change(t, u, "Presenting")
	})
	if got[0].event.Data.Activity != "InACall" || got[2].event.Data.Activity != "Presenting" || got[2].event.Data.Sequence != 3 {
		t.Errorf("events = %+v", got)
	}
	// Disconnected; two more happen; resume from the last id seen.
	f.change(t, u, "InACall")
	f.change(t, u, "InAConferenceCall")
	resumed := f.read(t, strconv.FormatInt(got[2].id, 10), 2, nil)
	if resumed[0].event.Data.Sequence != 4 || resumed[1].event.Data.Sequence != 5 {
		t.Errorf("resumed = %+v", resumed)
	}
}

func TestStreamNeedsAValidKey(t *testing.T) {
	f := newFixture(t)
	for name, auth := range map[string]string{"none": "", "wrong": "Bearer pbk_abcdefgh_nope", "malformed": "Bearer x", "other scheme": "Basic " + f.key} {
		req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/events", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p map[string]any
		json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("Content-Type") != "application/problem+json" || p["title"] == nil {
			t.Errorf("%s: %d %s %v", name, resp.StatusCode, resp.Header.Get("Content-Type"), p)
		}
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+f.key)
	req.Header.Set("Last-Event-ID", "yesterday")
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("bad Last-Event-ID: %d", resp.StatusCode)
	}
}

// TestStreamRefusesALastEventIDBeyondTheNewest: an id this stream never
// gave (a client bug, a cursor from another deployment) is a 400 problem,
// not a stream that silently waits for events that never come; the
// newest id itself resumes normally.
func TestStreamRefusesALastEventIDBeyondTheNewest(t *testing.T) {
	f := newFixture(t)
	f.change(t, uuid.New(), "InACall")
	f.change(t, uuid.New(), "InACall")
	get := func(last string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+f.key)
		req.Header.Set("Last-Event-ID", last)
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p map[string]any
		if resp.Header.Get("Content-Type") == "application/problem+json" {
			json.NewDecoder(resp.Body).Decode(&p)
		}
		return resp, p
	}
	resp, p := get("3")
	if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/problem+json" || p["detail"] == nil {
		t.Errorf("Last-Event-ID 3 of 2: %d %s %v", resp.StatusCode, resp.Header.Get("Content-Type"), p)
	}
	if resp, _ := get("2"); resp.StatusCode != 200 {
		t.Errorf("Last-Event-ID of the newest event: %d", resp.StatusCode)
	}
}

// TestTheStreamCarriesTheEventIdAndTheObservationTime: each event's data
// names its event id (the webhook-id of the same event) and its timestamp
// is when the change was observed, the same on every read.
func TestTheStreamCarriesTheEventIdAndTheObservationTime(t *testing.T) {
	f := newFixture(t)
	f.change(t, uuid.New(), "InACall")
	first := f.read(t, "0", 1, nil)[0]
	time.Sleep(20 * time.Millisecond)
	again := f.read(t, "0", 1, nil)[0]
	if first.event.Data.EventID == uuid.Nil || first.event.Data.EventID.Version() != 7 || again.event.Data.EventID != first.event.Data.EventID {
		t.Errorf("event ids %v then %v, want one UUIDv7", first.event.Data.EventID, again.event.Data.EventID)
	}
	if !first.event.Timestamp.Equal(first.event.Data.ObservedAt) || !again.event.Timestamp.Equal(first.event.Timestamp) {
		t.Errorf("timestamps %v then %v, observed %v", first.event.Timestamp, again.event.Timestamp, first.event.Data.ObservedAt)
	}
}
