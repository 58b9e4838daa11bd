package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"presencebridge/internal/store"
)

func (f *fixture) keyed(t *testing.T, idemKey, method, path, body string) (*http.Response, string) {
	t.Helper()
	resp, out := f.request(t, method, path, body, headers(f.key, "Idempotency-Key", idemKey))
	b, _ := json.Marshal(out)
	return resp, string(b)
}

func TestAnIdempotentRetryGetsTheFirstAnswerAndIsNotCarriedOutTwice(t *testing.T) {
	f := newFixture(t)
	body := `{"name":"retried","scopes":["events:read"]}`
	first, firstBody := f.keyed(t, "create-1", "POST", "/api/v1/api-keys", body)
	again, againBody := f.keyed(t, "create-1", "POST", "/api/v1/api-keys", body)
	if first.StatusCode != 201 || again.StatusCode != 201 || againBody != firstBody ||
		again.Header.Get("Idempotent-Replayed") != "true" || first.Header.Get("Idempotent-Replayed") != "" ||
		again.Header.Get("Content-Type") != first.Header.Get("Content-Type") {
		t.Fatalf("first %d %q, retry %d %v %q", first.StatusCode, firstBody, again.StatusCode, again.Header, againBody)
	}
	keys, err := f.st.APIKeys(context.Background(), f.tenant)
	if err != nil || len(keys) != 2 {
		t.Errorf("%d keys after a retried create (%v), want the fixture's and one", len(keys), err)
	}
	audit, _ := f.st.AuditLog(context.Background(), f.tenant, 10)
	if len(audit) != 1 {
		t.Errorf("audit has %d entries, want the one creation", len(audit))
	}

	// The same key with another request is refused, and nothing is done.
	if resp, b := f.keyed(t, "create-1", "POST", "/api/v1/api-keys", `{"name":"other","scopes":["events:read"]}`); resp.StatusCode != 422 ||
		!strings.Contains(b, "another request") {
		t.Errorf("reused key, other body: %d %s", resp.StatusCode, b)
	}
	// Without a key, each request is its own.
	f.do(t, "POST", "/api/v1/api-keys", body)
	f.do(t, "POST", "/api/v1/api-keys", body)
	if keys, _ := f.st.APIKeys(context.Background(), f.tenant); len(keys) != 4 {
		t.Errorf("%d keys, want 4", len(keys))
	}
}

func TestAKeyWhoseFirstRequestStillRunsIsAConflictAndKeysAreScopedToTheAPIKey(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	caller, err := f.st.AuthenticateAPIKey(ctx, f.key)
	if err != nil {
		t.Fatal(err)
	}
	if _, claimed, err := f.st.ClaimIdempotencyKey(ctx, caller.ID, "busy", "POST", "/api/v1/api-keys", []byte("x")); err != nil || !claimed {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	resp, b := f.keyed(t, "busy", "POST", "/api/v1/api-keys", `{"name":"n","scopes":["events:read"]}`)
	if resp.StatusCode != 409 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a key in use: %d %s", resp.StatusCode, b)
	}

	// Another API key's use of the same Idempotency-Key is its own.
	other, _, err := f.st.CreateAPIKey(ctx, f.tenant, store.NewAPIKey{Name: "other", Scopes: store.AllScopes})
	if err != nil {
		t.Fatal(err)
	}
	f.key = other
	if resp, b := f.keyed(t, "busy", "POST", "/api/v1/api-keys", `{"name":"n","scopes":["events:read"]}`); resp.StatusCode != 201 {
		t.Errorf("the same Idempotency-Key under another API key: %d %s", resp.StatusCode, b)
	}
	if resp, _ := f.keyed(t, strings.Repeat("k", 256), "POST", "/api/v1/api-keys", `{"name":"n","scopes":["events:read"]}`); resp.StatusCode != 400 {
		t.Errorf("a 256-character key: %d, want 400", resp.StatusCode)
	}
}
