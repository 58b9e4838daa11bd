package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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
	r.Route("/api/v1", Routes(Deps{Store: store.New(down, nil), Logger: slog.New(slog.NewTextHandler(&logs, nil))}))
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
