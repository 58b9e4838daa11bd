package api

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

func TestEndpointsReEnableAndReplayDeadLetters(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ep, err := f.st.CreateEndpoint(ctx, f.tenant, "https://platform.example/hook", "whsec_dGVzdA==")
	if err != nil {
		t.Fatal(err)
	}
	f.change(t, uuid.New(), "InACall")
	f.change(t, uuid.New(), "InACall")
	if err := f.st.DisableEndpoint(ctx, ep.ID, "the endpoint answered 410 Gone"); err != nil {
		t.Fatal(err)
	}
	code, out := f.do(t, "GET", "/api/v1/endpoints", "")
	list, _ := out["data"].([]any)
	if code != 200 || len(list) != 1 {
		t.Fatalf("list: %d %v", code, out)
	}
	e := list[0].(map[string]any)
	if e["enabled"] != false || e["deadDeliveries"] != float64(2) || e["disabledReason"] == "" {
		t.Errorf("endpoint = %v", e)
	}
	if code, _ := f.do(t, "POST", "/api/v1/endpoints/"+ep.ID.String()+"/enable", ""); code != 204 {
		t.Errorf("enable: %d", code)
	}
	code, out = f.do(t, "POST", "/api/v1/endpoints/"+ep.ID.String()+"/replay", "")
	if code != 202 || out["replayed"] != float64(2) {
		t.Errorf("replay: %d %v", code, out)
	}
	var pending int
	f.st.Pool().QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE status = 'pending'`).Scan(&pending)
	if pending != 2 {
		t.Errorf("pending after replay = %d", pending)
	}
	// Another tenant's endpoint is not reachable with this key.
	other := storetest.Tenant(t, f.st.Pool(), "Other")
	oep, err := f.st.CreateEndpoint(ctx, other, "https://other.example/hook", "whsec_dGVzdA==")
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := f.do(t, "POST", "/api/v1/endpoints/"+oep.ID.String()+"/enable", ""); code != 404 {
		t.Errorf("other tenant's endpoint: %d, want 404", code)
	}
	if code, _ := f.do(t, "POST", "/api/v1/endpoints/nope/replay", ""); code != 404 {
		t.Errorf("bad id: %d", code)
	}
}

// TestRetryNowMakesAnEndpointsPendingDeliveriesDueAndIsAudited: deliveries
// waiting out their backoff are due at once (not one being sent); the
// answer says how many; the action is in the audit log under the key's
// id; another tenant's endpoint is 404 and a disabled one 409, as
// problem+json.
func TestRetryNowMakesAnEndpointsPendingDeliveriesDueAndIsAudited(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ep, err := f.st.CreateEndpoint(ctx, f.tenant, "https://platform.example/hook", "whsec_dGVzdA==")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		f.change(t, uuid.New(), "InACall")
	}
	// Two wait out a backoff after failing; one is on the wire (leased).
	testkit.Exec(t, f.st.Pool(), `UPDATE deliveries SET attempts = 2, next_attempt_at = now() + interval '1 hour'`)
	testkit.Exec(t, f.st.Pool(), `UPDATE deliveries SET leased_until = next_attempt_at WHERE id = (SELECT min(id) FROM deliveries)`)
	code, out := f.do(t, "POST", "/api/v1/endpoints/"+ep.ID.String()+"/retry", "")
	if code != 202 || out["due"] != float64(2) {
		t.Fatalf("retry: %d %v, want 202 with 2 due", code, out)
	}
	var due, leased int
	f.st.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE next_attempt_at <= now()), count(*) FILTER (WHERE leased_until IS NOT NULL
		AND next_attempt_at > now()) FROM deliveries`).Scan(&due, &leased)
	if due != 2 || leased != 1 {
		t.Errorf("after retry: %d due, %d still leased; want 2 and 1", due, leased)
	}
	key, err := f.st.AuthenticateAPIKey(ctx, f.key)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := f.st.AuditLog(ctx, f.tenant, 10)
	if err != nil || len(entries) == 0 || entries[0].Action != "endpoint.retried" || entries[0].Actor != "apikey:"+key.ID.String() ||
		entries[0].Detail["endpoint"] != ep.ID.String() || entries[0].Detail["due"] != float64(2) {
		t.Errorf("audit log: %+v, %v", entries, err)
	}

	other := storetest.Tenant(t, f.st.Pool(), "Other")
	oep, err := f.st.CreateEndpoint(ctx, other, "https://other.example/hook", "whsec_dGVzdA==")
	if err != nil {
		t.Fatal(err)
	}
	if code, out := f.do(t, "POST", "/api/v1/endpoints/"+oep.ID.String()+"/retry", ""); code != 404 || out["title"] == nil {
		t.Errorf("other tenant's endpoint: %d %v, want a 404 problem", code, out)
	}
	if err := f.st.DisableEndpoint(ctx, ep.ID, "the endpoint answered 410 Gone"); err != nil {
		t.Fatal(err)
	}
	if code, out := f.do(t, "POST", "/api/v1/endpoints/"+ep.ID.String()+"/retry", ""); code != 409 || out["title"] == nil {
		t.Errorf("disabled endpoint: %d %v, want a 409 problem", code, out)
	}
	// Enabling and replaying are audited too.
	f.do(t, "POST", "/api/v1/endpoints/"+ep.ID.String()+"/enable", "")
	f.do(t, "POST", "/api/v1/endpoints/"+ep.ID.String()+"/replay", "")
	entries, _ = f.st.AuditLog(ctx, f.tenant, 10)
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action+" by "+e.Actor)
	}
	if want := "endpoint.replayed by apikey:" + key.ID.String(); len(actions) < 2 || actions[0] != want ||
		actions[1] != "endpoint.enabled by apikey:"+key.ID.String() {
		t.Errorf("audit log: %v", actions)
	}
}
