package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strconv"
	"testing"
	"time"

	"presencebridge/web/api/apitest"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
)

// Past its budget a key gets 429 problem+json with Retry-After; every
// answer shows the budget; another key (or the next second) is not held
// back.
func TestAKeyPastItsRateLimitIsToldWhenToRetryAndOtherKeysAreNotHeldBack(t *testing.T) {
	f := newFixture(t)
	r := chi.NewRouter()
	r.Route("/api/v1", Routes(Deps{Store: f.st, Keys: f.keys, Subscribe: func(uuid.UUID) (<-chan struct{}, func()) { return nil, func() {} }, RateLimit: 5}))
	srv := httptest.NewServer(apitest.Described(t, r))
	defer srv.Close()
	get := func(key string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/api-keys", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == 429 {
			var p map[string]any
			if json.NewDecoder(resp.Body).Decode(&p); p["status"] != float64(429) || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("429 body %v %s", p, resp.Header.Get("Content-Type"))
			}
		}
		return resp
	}
	var limited *http.Response
	for i := 0; i < 6; i++ {
		resp := get(f.key)
		if resp.Header.Get("X-RateLimit-Limit") != "5" || resp.Header.Get("RateLimit-Policy") != "5;w=1" {
			t.Errorf("request %d: budget headers %v", i, resp.Header)
		}
		if resp.StatusCode == 429 {
			limited = resp
			break
		}
	}
	if limited == nil {
		t.Fatal("six requests in a second with a budget of five: none refused")
	}
	if s, err := strconv.Atoi(limited.Header.Get("Retry-After")); err != nil || s < 0 || s > 2 {
		t.Errorf("Retry-After %q", limited.Header.Get("Retry-After"))
	}
	// Another key has its own budget: a malformed one is limited by address,
	// a well-formed unknown one by its prefix, and both answer 401, not 429.
	if resp := get("pbk_zzzzzzzz_unknown"); resp.StatusCode != 401 {
		t.Errorf("another key: %d, want 401", resp.StatusCode)
	}
	time.Sleep(1100 * time.Millisecond)
	if resp := get(f.key); resp.StatusCode != 200 {
		t.Errorf("after the window: %d", resp.StatusCode)
	}
}

// The rate limit's headers are named as net/http sends them, so that
// setting them on each answer does not make the canonical name anew (and
// the limit and policy, set straight into the map, are found by
// Header.Get).
func TestTheRateLimitHeadersAreNamedAsNetHTTPSendsThem(t *testing.T) {
	for _, name := range []string{limitHeader, limitHeaders.Remaining, limitHeaders.Increment, limitHeaders.Reset, limitHeaders.RetryAfter, policyHeader} {
		if c := textproto.CanonicalMIMEHeaderKey(name); c != name {
			t.Errorf("%q is sent as %q", name, c)
		}
	}
}
