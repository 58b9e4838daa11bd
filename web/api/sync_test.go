package api

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
)

// The engine's side of a sync (its pass against graphsim) is tested in
// internal/engine/enginetest; here the pass is played with the store
// methods it calls, so each outcome can be chosen.

// enginePass plays the engine's repair step over the tenant: it starts
// the open syncs, re-reads the queued users unless failure is set, and
// settles the syncs with the outcome.
func (f *fixture) enginePass(t *testing.T, failure string) {
	t.Helper()
	ctx := context.Background()
	if _, err := f.st.StartSyncOperations(ctx, f.tenant); err != nil {
		t.Fatal(err)
	}
	if failure == "" {
		q, err := f.st.PendingResyncs(ctx, f.tenant, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.st.ClearResyncs(ctx, f.tenant, q.Users, q.UpTo); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.st.SettleSyncOperations(ctx, f.tenant, failure); err != nil {
		t.Fatal(err)
	}
}

func TestATenantSyncIsAnOperationWhoseStatusIsTheEnginesOutcome(t *testing.T) {
	f := newResourceFixture(t, nil)
	f.activate(t)
	m := f.monitor(t, f.tenant, "monitor@contoso.example")
	f.resolved(t, f.tenant, &m, "alice@contoso.example", "bob@contoso.example")
	resp, op := f.as(t, f.key, "POST", "/api/v1/sync", "")
	id, _ := op["id"].(string)
	if resp.StatusCode != 202 || op["status"] != "pending" || op["kind"] != "sync" || op["userId"] != nil ||
		resp.Header.Get("Location") != "/api/v1/operations/"+id {
		t.Fatalf("POST /sync: %d %v %q", resp.StatusCode, op, resp.Header.Get("Location"))
	}
	if queued, _ := f.st.PendingResyncs(context.Background(), f.tenant, 10); len(queued.Users) != 2 {
		t.Errorf("queued %v, want both monitored users", queued.Users)
	}
	if a := f.audited(t); a.Action != "sync.requested" || a.Detail["operation"] != id || !strings.HasPrefix(a.Actor, "apikey:") {
		t.Errorf("audit: %+v", a)
	}
	if _, got := f.do(t, "GET", "/api/v1/operations/"+id, ""); got["status"] != "pending" {
		t.Errorf("before the engine's pass: %v", got)
	}
	if _, err := f.st.StartSyncOperations(context.Background(), f.tenant); err != nil {
		t.Fatal(err)
	}
	if _, got := f.do(t, "GET", "/api/v1/operations/"+id, ""); got["status"] != "running" || got["startedAt"] == nil {
		t.Errorf("in the engine's pass: %v", got)
	}
	f.enginePass(t, "")
	code, got := f.do(t, "GET", "/api/v1/operations/"+id, "")
	if code != 200 || got["status"] != "succeeded" || got["finishedAt"] == nil || got["error"] != nil {
		t.Errorf("after the re-read: %d %v", code, got)
	}
}

func TestAUserSyncWhoseReReadFailsSaysWhy(t *testing.T) {
	f := newResourceFixture(t, nil)
	f.activate(t)
	m := f.monitor(t, f.tenant, "monitor@contoso.example")
	ids := f.resolved(t, f.tenant, &m, "alice@contoso.example")
	code, op := f.do(t, "POST", "/api/v1/sync", `{"userId":"ALICE@contoso.example"}`)
	if code != 202 || op["userId"] != ids[0].String() {
		t.Fatalf("POST /sync for alice: %d %v", code, op)
	}
	f.enginePass(t, "Graph answered 503")
	if _, got := f.do(t, "GET", "/api/v1/operations/"+op["id"].(string), ""); got["status"] != "failed" || got["error"] != "Graph answered 503" {
		t.Errorf("after a failed re-read: %v", got)
	}
	code, op = f.do(t, "POST", "/api/v1/sync", `{"userId":"`+ids[0].String()+`"}`)
	if code != 202 || op["userId"] != ids[0].String() {
		t.Errorf("POST /sync by object id: %d %v", code, op)
	}
}

func TestASyncIsRefusedForAnUnknownOrUnresolvedUserOrATenantNotMonitored(t *testing.T) {
	f := newResourceFixture(t, nil)
	if code, p := f.do(t, "POST", "/api/v1/sync", `{}`); code != 409 || !strings.Contains(p["detail"].(string), "onboarding") {
		t.Errorf("a tenant in onboarding: %d %v", code, p)
	}
	f.activate(t)
	if code, _ := f.do(t, "POST", "/api/v1/users:bulk", `{"users":[{"upn":"new@contoso.example"}]}`); code != 200 {
		t.Fatal(code)
	}
	other := storetest.Tenant(t, f.st.Pool(), "Fabrikam")
	theirs := f.resolved(t, other, nil, "zoe@fabrikam.example")[0]
	for body, want := range map[string]int{
		`{"userId":"new@contoso.example"}`:              409,
		`{"userId":"nobody@contoso.example"}`:           404,
		`{"userId":"` + theirs.String() + `"}`:          404,
		`{"userId":"` + uuid.NewString() + `"}`:         404,
		`{"user":"new@contoso.example"}`:                422,
		`{"userId":"` + strings.Repeat("x", 300) + `"}`: 422,
		`{"userId":`: 400,
	} {
		if code, p := f.do(t, "POST", "/api/v1/sync", body); code != want {
			t.Errorf("POST /sync %.50s: %d %v, want %d", body, code, p, want)
		}
	}
	if queued, _ := f.st.PendingResyncs(context.Background(), f.tenant, 10); len(queued.Users) != 0 {
		t.Errorf("refused syncs queued %v", queued.Users)
	}
}

func TestAnotherTenantsOperationIsNotFound(t *testing.T) {
	f := newResourceFixture(t, nil)
	other := storetest.Tenant(t, f.st.Pool(), "Fabrikam")
	var theirs store.Operation
	err := f.st.InTx(context.Background(), func(tx store.Tx) (err error) {
		theirs, err = tx.CreateSyncOperation(context.Background(), other, nil, "apikey:theirs")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{theirs.ID.String(), uuid.NewString(), "not-an-id"} {
		if code, p := f.do(t, "GET", "/api/v1/operations/"+id, ""); code != 404 || p["title"] != "Not Found" {
			t.Errorf("GET /operations/%s: %d %v", id, code, p)
		}
	}
}
