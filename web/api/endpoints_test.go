package api

import (
	"context"
	"testing"

	"github.com/google/uuid"
)

func TestEndpointsReEnableAndReplayDeadLetters(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ep, err := f.st.CreateEndpoint(ctx, f.st.Pool(), f.tenant, "https://platform.example/hook", "whsec_dGVzdA==")
	if err != nil {
		t.Fatal(err)
	}
	f.change(t, uuid.New(), "InACall")
	f.change(t, uuid.New(), "InACall")
	if err := f.st.DisableEndpoint(ctx, f.st.Pool(), ep.ID, "the endpoint answered 410 Gone"); err != nil {
		t.Fatal(err)
	}
	code, out := f.do(t, "GET", "/api/v1/endpoints", "")
	list, _ := out["value"].([]any)
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
	var other uuid.UUID
	f.st.Pool().QueryRow(ctx, `INSERT INTO tenants (name) VALUES ('Other') RETURNING id`).Scan(&other)
	oep, _ := f.st.CreateEndpoint(ctx, f.st.Pool(), other, "https://other.example/hook", "whsec_dGVzdA==")
	if code, _ := f.do(t, "POST", "/api/v1/endpoints/"+oep.ID.String()+"/enable", ""); code != 404 {
		t.Errorf("other tenant's endpoint: %d, want 404", code)
	}
	if code, _ := f.do(t, "POST", "/api/v1/endpoints/nope/replay", ""); code != 404 {
		t.Errorf("bad id: %d", code)
	}
}
