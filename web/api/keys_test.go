package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
	"presencebridge/web/api/apitest"
)

// request calls the API with the given headers (Authorization among them,
// or none) and decodes a JSON answer.
func (f *fixture) request(t *testing.T, method, path, body string, header http.Header) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

// headers is a JSON request's headers with key (none when empty) and
// name/value pairs.
func headers(key string, kv ...string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	if key != "" {
		h.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// as calls the API with key instead of the fixture's.
func (f *fixture) as(t *testing.T, key, method, path, body string) (*http.Response, map[string]any) {
	t.Helper()
	return f.request(t, method, path, body, headers(key))
}

func TestAnAdminKeyCreatesListsAndRevokesKeysAndEveryChangeIsAudited(t *testing.T) {
	f := newFixture(t)
	expires := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	code, created := f.do(t, "POST", "/api/v1/api-keys",
		`{"name":"wallboard","scopes":["presence:read","events:read"],"expiresAt":"`+expires.Format(time.RFC3339)+`"}`)
	secret, _ := created["key"].(string)
	ak, _ := created["apiKey"].(map[string]any)
	if code != 201 || !strings.HasPrefix(secret, "pbk_") || ak["name"] != "wallboard" || ak["status"] != "active" ||
		!strings.HasPrefix(secret, ak["prefix"].(string)+"_") {
		t.Fatalf("create: %d %v", code, created)
	}
	storetest.RequireNotStored(t, f.st.Pool(), secret)

	// The new key reads presence and events, and may not manage keys.
	if resp, _ := f.as(t, secret, "GET", "/api/v1/events", ""); resp.StatusCode != 200 {
		t.Errorf("the new key on its own scope: %d", resp.StatusCode)
	}
	resp, p := f.as(t, secret, "GET", "/api/v1/api-keys", "")
	if resp.StatusCode != 403 || !strings.Contains(p["detail"].(string), "admin") ||
		!strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Errorf("the new key on admin: %d %v %q", resp.StatusCode, p, resp.Header.Get("WWW-Authenticate"))
	}

	code, listed := f.do(t, "GET", "/api/v1/api-keys", "")
	keys, _ := listed["data"].([]any)
	if code != 200 || len(keys) != 2 || strings.Contains(mustJSON(t, listed), secret[12:]) {
		t.Fatalf("list: %d %v", code, listed)
	}
	first := keys[0].(map[string]any)
	if first["id"] != ak["id"] || first["expiresAt"] != expires.Format(time.RFC3339) || len(first["scopes"].([]any)) != 2 {
		t.Errorf("newest key listed as %v", first)
	}

	code, revoked := f.do(t, "DELETE", "/api/v1/api-keys/"+ak["id"].(string), "")
	if code != 200 || revoked["status"] != "revoked" || revoked["revokedAt"] == nil {
		t.Fatalf("revoke: %d %v", code, revoked)
	}
	if resp, _ := f.as(t, secret, "GET", "/api/v1/events", ""); resp.StatusCode != 401 {
		t.Errorf("a revoked key: %d, want 401", resp.StatusCode)
	}
	audit, err := f.st.AuditLog(context.Background(), f.tenant, 10)
	if err != nil || len(audit) != 2 || audit[0].Action != "api_key.revoked" || audit[1].Action != "api_key.created" ||
		audit[0].Actor != audit[1].Actor || !strings.HasPrefix(audit[0].Actor, "apikey:") || strings.Contains(mustJSON(t, audit), secret) {
		t.Errorf("audit = %+v (%v), want created and revoked by the admin key, without the secret", audit, err)
	}
}

func TestKeysAreRefusedWhenExpiredOrTheirTenantIsSuspendedAndBadBodiesSayWhy(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	soon := time.Now().Add(time.Hour)
	secret, _, err := f.st.CreateAPIKey(ctx, f.tenant, store.NewAPIKey{Name: "short", Scopes: []string{store.ScopeEventsRead}, ExpiresAt: &soon})
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := f.as(t, secret, "GET", "/api/v1/events", ""); resp.StatusCode != 200 {
		t.Fatalf("before expiry: %d", resp.StatusCode)
	}
	// Moved into the past in the database, the key's expiry reaches the
	// cache by NOTIFY.
	testkit.Exec(t, f.st.Pool(), `UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE name = 'short'`)
	untilRefused(t, f.srv.URL+"/api/v1/events", secret)

	for body, want := range map[string]string{
		`{"name":"x","scopes":["presence:read"],"expiresAt":"2001-01-01T00:00:00Z"}`: "body.expiresAt",
		`{"name":"x","scopes":["everything"]}`:                                       "body.scopes[0]",
		`{"name":"","scopes":["admin"]}`:                                             "body.name",
		`{"name":"x","scopes":[]}`:                                                   "body.scopes",
		`{"name":"x"}`:                                                               "property scopes",
	} {
		code, p := f.do(t, "POST", "/api/v1/api-keys", body)
		if code != 422 || !strings.Contains(mustJSON(t, p["errors"]), want) {
			t.Errorf("create %s: %d %v, want 422 at %s", body, code, p, want)
		}
	}

	testkit.Exec(t, f.st.Pool(), `UPDATE tenants SET status = 'suspended' WHERE id = $1`, f.tenant)
	untilRefused(t, f.srv.URL+"/api/v1/api-keys", f.key)
}

func TestATenantsKeyCannotSeeAnotherTenantsKeys(t *testing.T) {
	f := newFixture(t)
	other := storetest.Tenant(t, f.st.Pool(), "Other")
	_, k, err := f.st.CreateAPIKey(context.Background(), other, store.NewAPIKey{Name: "theirs", Scopes: store.AllScopes})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"GET", "DELETE"} {
		if code, p := f.do(t, m, "/api/v1/api-keys/"+k.ID.String(), ""); code != 404 || p["title"] != "Not Found" {
			t.Errorf("%s another tenant's key: %d %v, want 404", m, code, p)
		}
	}
	if code, _ := f.do(t, "GET", "/api/v1/api-keys/not-an-id", ""); code != 404 {
		t.Errorf("GET a malformed id: %d, want 404", code)
	}
	if _, listed := f.do(t, "GET", "/api/v1/api-keys", ""); len(listed["data"].([]any)) != 1 {
		t.Errorf("list shows another tenant's keys: %v", listed)
	}
}

func TestUnknownRoutesAndMethodsAreProblemJSONAndTheDescriptionIsPublic(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		method, path string
		want         int
	}{{"GET", "/api/v1/nope", 404}, {"DELETE", "/api/v1/events", 405}, {"PATCH", "/api/v1/api-keys", 405}} {
		resp, p := f.as(t, f.key, c.method, c.path, "")
		if resp.StatusCode != c.want || resp.Header.Get("Content-Type") != "application/problem+json" || p["status"] != float64(c.want) {
			t.Errorf("%s %s: %d %s %v", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), p)
		}
	}
	resp, doc := f.as(t, "", "GET", "/api/v1/openapi.json", "")
	if resp.StatusCode != 200 || doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi.json: %d %v", resp.StatusCode, doc["openapi"])
	}
	// Every operation names one scope that exists.
	scopes := map[string]bool{}
	for _, s := range store.AllScopes {
		scopes[s] = true
	}
	n := 0
	for path, item := range doc["paths"].(map[string]any) {
		for method, o := range item.(map[string]any) {
			sec, _ := o.(map[string]any)["security"].([]any)
			if len(sec) != 1 {
				t.Errorf("%s %s: security %v", method, path, sec)
				continue
			}
			got := sec[0].(map[string]any)[securityScheme].([]any)
			if len(got) != 1 || !scopes[got[0].(string)] {
				t.Errorf("%s %s: scopes %v", method, path, got)
			}
			n++
		}
	}
	if n < 10 {
		t.Errorf("only %d operations described", n)
	}
}

// The checker fails a test on a response its description does not allow:
// here a list whose items lose a required field.
func TestTheDescriptionCheckerFailsOnAnUndescribedResponse(t *testing.T) {
	st, tenant := storetest.New(t)
	if _, _, err := st.CreateAPIKey(context.Background(), tenant, store.NewAPIKey{Name: "a", Scopes: store.AllScopes}); err != nil {
		t.Fatal(err)
	}
	secret, _, err := st.CreateAPIKey(context.Background(), tenant, store.NewAPIKey{Name: "b", Scopes: store.AllScopes})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Route("/api/v1", Routes(Deps{Store: st, Keys: runningKeys(t, st)}))
	broken := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		body := strings.ReplaceAll(rec.Body.String(), `"prefix":`, `"prefx":`)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		w.Write([]byte(body))
	})
	rt := &failures{TB: t}
	srv := httptest.NewServer(apitest.Described(rt, broken))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/api-keys", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(rt.msg, "prefix") {
		t.Errorf("a list without its keys' prefix passed the check (%d): %q", resp.StatusCode, rt.msg)
	}
}

// failures records a checker's failures instead of failing.
type failures struct {
	testing.TB
	msg string
}

func (f *failures) Errorf(format string, args ...any) { f.msg += fmt.Sprintf(format, args...) }
func (f *failures) Helper()                           {}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
