package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/keycache"
	"presencebridge/internal/store"
	"presencebridge/web/api/apitest"
)

// getWithKey requests the event stream of srv with key and returns the
// status, Retry-After, Content-Type and, unless 200, the problem (a
// stream that opens is not read: it ends with the test's context).
func getWithKey(t *testing.T, srv *httptest.Server, key string) (status int, retryAfter, contentType string, p map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		json.NewDecoder(resp.Body).Decode(&p)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"), p
}

// A database that cannot judge the key is 503 problem+json with
// Retry-After, never 401 "Invalid API key": told its key is invalid, a
// platform might discard a good one. The outage is real: a pool of the
// test database, closed. A key malformed on its face needs no database
// and stays 401. The failure is logged for the operator.
func TestAuthenticationIsUnavailableNotUnauthorizedWhenTheDatabaseIsDown(t *testing.T) {
	f := newFixture(t)
	down, err := pgxpool.NewWithConfig(t.Context(), f.st.Pool().Config())
	if err != nil {
		t.Fatal(err)
	}
	down.Close()
	r := chi.NewRouter()
	var logs bytes.Buffer
	st := store.New(down, nil)
	r.Route("/api/v1", Routes(Deps{Store: st, Keys: runKeys(t, st), Logger: slog.New(slog.NewTextHandler(&logs, nil))}))
	srv := httptest.NewServer(apitest.Described(t, r))
	t.Cleanup(srv.Close)

	for name, key := range map[string]string{"valid": f.key, "unknown": "pbk_abcdefgh_nope"} {
		status, retry, ct, p := getWithKey(t, srv, key)
		if status != http.StatusServiceUnavailable || retry == "" || ct != "application/problem+json" || p["status"] != float64(503) {
			t.Errorf("%s key, database down: %d Retry-After %q %s %v; want 503 problem+json with Retry-After", name, status, retry, ct, p)
		}
	}
	if status, _, _, _ := getWithKey(t, srv, "x"); status != http.StatusUnauthorized {
		t.Errorf("malformed key, database down: %d, want 401", status)
	}
	// The operator sees why (the client only a 503), never the key.
	if n := strings.Count(logs.String(), "api: key check"); n != 2 || strings.Contains(logs.String(), f.key) {
		t.Errorf("want 2 failures logged without the key, got %d:\n%s", n, logs.String())
	}
}

// A revoked key is 401, as an unknown one is: revocation is the key's
// fault, not the service's.
func TestRevokedKeyIsUnauthorized(t *testing.T) {
	f := newFixture(t)
	if _, err := f.st.Pool().Exec(t.Context(), `UPDATE api_keys SET revoked_at = now()`); err != nil {
		t.Fatal(err)
	}
	status, retry, ct, p := getWithKey(t, f.srv, f.key)
	if status != http.StatusUnauthorized || retry != "" || ct != "application/problem+json" || !strings.Contains(fmt.Sprint(p["detail"]), "revoked") {
		t.Errorf("revoked key: %d Retry-After %q %s %v; want 401 naming revocation among the causes", status, retry, ct, p)
	}
}

// A key revoked through the API is refused on the very next request to
// the instance that revoked it, though that instance had it cached; another
// instance (a cache of its own over the same database) refuses it as soon
// as the revocation's NOTIFY reaches it, milliseconds later — not when its
// five minutes are up.
func TestARevokedKeyIsRefusedAtOnceThoughCachedHereAndOnAnotherInstance(t *testing.T) {
	f := newFixture(t)
	other := httptest.NewServer(resourceRoutes(Deps{Store: f.st, Keys: runningKeys(t, f.st)}, Resources{}))
	t.Cleanup(other.Close)
	secret, k, err := f.st.CreateAPIKey(t.Context(), f.tenant, store.NewAPIKey{Name: "wallboard", Scopes: store.AllScopes})
	if err != nil {
		t.Fatal(err)
	}
	here, there := f.srv.URL+"/api/v1/api-keys", other.URL+"/api/v1/api-keys"
	for _, u := range []string{here, there, here, there} {
		if code := statusOf(t, u, secret); code != http.StatusOK {
			t.Fatalf("before revocation, %s: %d", u, code)
		}
	}

	if code, _ := f.do(t, "DELETE", "/api/v1/api-keys/"+k.ID.String(), ""); code != http.StatusOK {
		t.Fatalf("revoke: %d", code)
	}
	if code := statusOf(t, here, secret); code != http.StatusUnauthorized {
		t.Errorf("the next request to the instance that revoked the key: %d, want 401", code)
	}
	t.Logf("the other instance refused the key %v after the revocation's answer", untilRefused(t, there, secret))
}

// statusOf is the status of GET url with key (a stream is closed unread).
func statusOf(t *testing.T, url, key string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// untilRefused repeats statusOf until it is 401 and returns how long that
// took, failing the test after 5 s. A change made in the database reaches
// a key cache by its NOTIFY, a few milliseconds after the commit; a cached
// key is trusted for five minutes, so only that eviction ends the wait.
func untilRefused(t *testing.T, url, key string) time.Duration {
	t.Helper()
	start := time.Now()
	for statusOf(t, url, key) != http.StatusUnauthorized {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%s still takes the key 5 s after the change", url)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// runningKeys is the key cache the product runs beside the API, run until
// the test ends and listening when it returns, so that a key's second use
// is the steady state's, with no query.
func runningKeys(t testing.TB, st *store.Store) *keycache.Cache {
	t.Helper()
	c := runKeys(t, st)
	for deadline := time.Now().Add(5 * time.Second); !c.Listening(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the key cache is not listening 5 s after it started")
		}
	}
	return c
}

// runKeys runs a key cache of st until the test ends, and waits for it to
// stop then.
func runKeys(t testing.TB, st *store.Store) *keycache.Cache {
	c := keycache.New(st, keycache.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return c
}
