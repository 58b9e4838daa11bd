package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/stream"
	"presencebridge/web/api/apitest"
)

// TestAnOpenStreamEndsWhenItsKeyStopsWorkingAndANewOneIsRefused: an event
// stream lives as long as its key works. When the tenant is suspended or
// deleted (by the store, as support or psql would), or the key revoked,
// the open stream ends within seconds — on the database's announcement,
// not on a heartbeat: this server's is an hour — and connecting again is
// refused with the key check's 401 problem.
func TestAnOpenStreamEndsWhenItsKeyStopsWorkingAndANewOneIsRefused(t *testing.T) {
	for name, stop := range map[string]func(t *testing.T, st *store.Store, tenant uuid.UUID, key store.APIKey) error{
		"tenant suspended": func(t *testing.T, st *store.Store, tenant uuid.UUID, _ store.APIKey) error {
			_, err := st.SuspendTenant(t.Context(), tenant, "unpaid", "staff:ops@vendor.example")
			return err
		},
		"tenant deleted": func(t *testing.T, st *store.Store, tenant uuid.UUID, _ store.APIKey) error {
			_, err := st.DeleteTenant(t.Context(), tenant, "asked to", "staff:ops@vendor.example", time.Now().Add(time.Hour))
			return err
		},
		"key revoked": func(t *testing.T, st *store.Store, tenant uuid.UUID, key store.APIKey) error {
			_, err := st.RevokeAPIKey(t.Context(), tenant, key.ID)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			st, tenant := storetest.New(t)
			secret, key, err := st.CreateAPIKey(t.Context(), tenant, store.NewAPIKey{Name: "platform", Scopes: store.AllScopes})
			if err != nil {
				t.Fatal(err)
			}
			hub := stream.NewHub(st, nil)
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			go hub.Run(ctx)
			r := chi.NewRouter()
			r.Route("/api/v1", Routes(Deps{Store: st, Keys: runningKeys(t, st), Subscribe: hub.Subscribe, Heartbeat: time.Hour}))
			srv := httptest.NewServer(apitest.Described(t, r))
			t.Cleanup(srv.Close)
			connect := func() *http.Response {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/events", nil)
				req.Header.Set("Authorization", "Bearer "+secret)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				return resp
			}

			resp := connect()
			defer resp.Body.Close()
			lines := bufio.NewScanner(resp.Body)
			if resp.StatusCode != http.StatusOK || !lines.Scan() || !strings.HasPrefix(lines.Text(), "retry:") {
				t.Fatalf("stream: %d, first line %q", resp.StatusCode, lines.Text())
			}
			if err := stop(t, st, tenant, key); err != nil {
				t.Fatal(err)
			}
			ended := make(chan struct{})
			go func() {
				defer close(ended)
				for lines.Scan() {
				}
			}()
			select {
			case <-ended:
			case <-time.After(5 * time.Second):
				t.Fatal("the stream is still open 5 s after its key stopped working")
			}

			again := connect()
			defer again.Body.Close()
			var p map[string]any
			json.NewDecoder(again.Body).Decode(&p)
			if again.StatusCode != http.StatusUnauthorized || again.Header.Get("Content-Type") != "application/problem+json" || p["detail"] == nil {
				t.Errorf("a new stream: %d %s %v, want 401 problem+json", again.StatusCode, again.Header.Get("Content-Type"), p)
			}
		})
	}
}
