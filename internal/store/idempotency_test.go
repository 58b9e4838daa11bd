package store_test

import (
	"context"
	"net/http"
	"testing"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// A key is remembered with its answer for the window, taken over when its
// first request was abandoned, and swept once the window has passed.
func TestIdempotencyKeysAreRememberedForTheWindowThenSwept(t *testing.T) {
	st, tenant := storetest.New(t)
	ctx := context.Background()
	_, k, err := st.CreateAPIKey(ctx, tenant, store.NewAPIKey{Name: "k", Scopes: store.AllScopes})
	if err != nil {
		t.Fatal(err)
	}
	if _, claimed, err := st.ClaimIdempotencyKey(ctx, k.ID, "a", "POST", "/x", []byte("h")); err != nil || !claimed {
		t.Fatalf("first claim: %v %v", claimed, err)
	}
	if err := st.CompleteIdempotencyKey(ctx, k.ID, "a", 201, http.Header{"Content-Type": {"application/json"}}, []byte(`{"ok":true}`)); err != nil {
		t.Fatal(err)
	}
	prev, claimed, err := st.ClaimIdempotencyKey(ctx, k.ID, "a", "POST", "/x", []byte("h"))
	if err != nil || claimed || !prev.Done || prev.Status != 201 || string(prev.Body) != `{"ok":true}` || prev.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("second claim: %+v %v %v", prev, claimed, err)
	}
	// An unanswered claim is taken over after five minutes, not before.
	if _, claimed, _ := st.ClaimIdempotencyKey(ctx, k.ID, "b", "POST", "/x", []byte("h")); !claimed {
		t.Fatal("claim b")
	}
	if _, claimed, _ := st.ClaimIdempotencyKey(ctx, k.ID, "b", "POST", "/x", []byte("h")); claimed {
		t.Error("a running request's key was taken over")
	}
	testkit.Exec(t, st.Pool(), `UPDATE idempotency_keys SET created_at = now() - interval '6 minutes' WHERE key = 'b'`)
	if _, claimed, _ := st.ClaimIdempotencyKey(ctx, k.ID, "b", "POST", "/x", []byte("h")); !claimed {
		t.Error("an abandoned request's key was not taken over")
	}
	testkit.Exec(t, st.Pool(), `UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'a'`)
	if n, err := st.DeleteExpiredIdempotencyKeys(ctx, 100); err != nil || n != 1 {
		t.Errorf("swept %d (%v), want the expired one", n, err)
	}
}
