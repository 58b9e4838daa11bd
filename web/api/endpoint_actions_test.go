package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"presencebridge/internal/deliver"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// verifies reports whether secret verifies the request's signature, with
// the Standard Webhooks reference library.
func verifies(t *testing.T, secret string, h *hook) bool {
	t.Helper()
	header, body := h.last(t)
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return wh.Verify(body, header) == nil
}

// TestARotatedSecretSignsBesideTheNewOneUntilTheOverlapEnds: after a
// rotation every webhook verifies with the old and the new secret; once
// the overlap is over, only with the new one. The new secret is answered
// once and is in neither the audit log nor any list.
func TestARotatedSecretSignsBesideTheNewOneUntilTheOverlapEnds(t *testing.T) {
	f := newEndpointFixture(t)
	ctx := context.Background()
	h := newHook(t)
	ep, oldSecret := f.create(t, h.srv.URL)
	id := ep["id"].(string)
	code, out := f.do(t, "POST", "/api/v1/endpoints/"+id+"/rotate-secret", `{"overlapSeconds":3600}`)
	newSecret, _ := out["secret"].(string)
	rotated, _ := out["endpoint"].(map[string]any)
	if code != 200 || !strings.HasPrefix(newSecret, "whsec_") || newSecret == oldSecret || rotated["previousSecretExpiresAt"] == nil {
		t.Fatalf("rotate: %d %v", code, out)
	}
	until, _ := time.Parse(time.RFC3339, rotated["previousSecretExpiresAt"].(string))
	if d := time.Until(until); d < 59*time.Minute || d > time.Hour {
		t.Errorf("the overlap ends in %v, want an hour", d)
	}

	dl := deliver.New(f.st, deliver.Options{AllowPrivate: true})
	f.change(t, uuid.New(), "InACall")
	if n, err := dl.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("deliver: %d, %v", n, err)
	}
	if !verifies(t, oldSecret, h) || !verifies(t, newSecret, h) {
		t.Error("during the overlap a delivery does not verify with both secrets")
	}
	if code, _ := f.do(t, "POST", "/api/v1/endpoints/"+id+"/test", ""); code != 200 || !verifies(t, oldSecret, h) || !verifies(t, newSecret, h) {
		t.Errorf("during the overlap a test event does not verify with both secrets (%d)", code)
	}

	testkit.Exec(t, f.st.Pool(), `UPDATE endpoints SET previous_signing_secret_expires_at = now() - interval '1 second'`)
	f.change(t, uuid.New(), "InACall")
	if n, err := dl.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("deliver: %d, %v", n, err)
	}
	if verifies(t, oldSecret, h) || !verifies(t, newSecret, h) {
		t.Error("after the overlap a delivery is not signed with the new secret only")
	}
	if _, got := f.do(t, "GET", "/api/v1/endpoints/"+id, ""); got["previousSecretExpiresAt"] != nil {
		t.Errorf("after the overlap the endpoint still shows one: %v", got)
	}

	_, listed := f.do(t, "GET", "/api/v1/endpoints", "")
	audit, _ := f.st.AuditLog(ctx, f.tenant, 10)
	for _, s := range []string{oldSecret, newSecret} {
		if strings.Contains(mustJSON(t, listed), s[6:]) || strings.Contains(mustJSON(t, audit), s[6:]) {
			t.Errorf("a secret is in the list or the audit log: %v %s", listed, mustJSON(t, audit))
		}
		storetest.RequireNotStored(t, f.st.Pool(), s)
	}
	if audit[1].Action != "endpoint.secret_rotated" || audit[1].Detail["overlapSeconds"] != float64(3600) {
		t.Errorf("audit log: %s", mustJSON(t, audit))
	}
}

func TestARotationsOverlapDefaultsToADayAndIsAtMostAWeek(t *testing.T) {
	f := newFixture(t)
	ep, _ := f.create(t, "https://platform.example/hook")
	path := "/api/v1/endpoints/" + ep["id"].(string) + "/rotate-secret"
	code, out := f.do(t, "POST", path, "")
	rotated, _ := out["endpoint"].(map[string]any)
	until, _ := time.Parse(time.RFC3339, rotated["previousSecretExpiresAt"].(string))
	if d := time.Until(until); code != 200 || d < 23*time.Hour || d > 24*time.Hour {
		t.Errorf("default overlap: %d, ends in %v", code, d)
	}
	if code, out := f.do(t, "POST", path, `{"overlapSeconds":0}`); code != 200 || out["endpoint"].(map[string]any)["previousSecretExpiresAt"] != nil {
		t.Errorf("no overlap: %d %v", code, out)
	}
	if code, p := f.do(t, "POST", path, `{"overlapSeconds":604801}`); code != 422 {
		t.Errorf("overlap beyond a week: %d %v", code, p)
	}
}

// TestATestEventArrivesAtALocalReceiverWithAValidSignature: the receiver
// gets a presence.test event with Standard Webhooks headers that verify
// with the endpoint's secret; the answer reports the endpoint's status and
// latency, or its refusal; nothing is stored as a presence event.
func TestATestEventArrivesAtALocalReceiverWithAValidSignature(t *testing.T) {
	f := newEndpointFixture(t)
	h := newHook(t)
	ep, secret := f.create(t, h.srv.URL)
	path := "/api/v1/endpoints/" + ep["id"].(string) + "/test"
	code, out := f.do(t, "POST", path, "")
	if code != 200 || out["delivered"] != true || out["statusCode"] != float64(204) || out["latencyMs"] == nil || out["error"] != nil {
		t.Fatalf("test: %d %v", code, out)
	}
	header, body := h.last(t)
	var ev deliver.TestEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.Type != "presence.test" || ev.Data.EndpointID.String() != ep["id"] ||
		header.Get("webhook-id") != out["eventId"] || header.Get("webhook-timestamp") == "" || !verifies(t, secret, h) {
		t.Errorf("received %s with %v (%v)", body, header, err)
	}
	var events int
	f.st.Pool().QueryRow(context.Background(), `SELECT (SELECT count(*) FROM presence_events) + (SELECT count(*) FROM deliveries)`).Scan(&events)
	if events != 0 {
		t.Errorf("the test event was stored (%d rows)", events)
	}

	h.mu.Lock()
	h.status, h.body = 401, "signature mismatch"
	h.mu.Unlock()
	code, out = f.do(t, "POST", path, "")
	if code != 200 || out["delivered"] != false || out["statusCode"] != float64(401) || out["error"] != "HTTP 401: signature mismatch" {
		t.Errorf("refused test: %d %v", code, out)
	}
	audit, _ := f.st.AuditLog(context.Background(), f.tenant, 1)
	if len(audit) != 1 || audit[0].Action != "endpoint.tested" || audit[0].Detail["status"] != float64(401) {
		t.Errorf("audit log: %s", mustJSON(t, audit))
	}
}

// TestATestEventToAPrivateAddressIsRefusedWithoutARequest: where webhooks
// may not reach private addresses (production), the test reports why.
func TestATestEventToAPrivateAddressIsRefusedWithoutARequest(t *testing.T) {
	f := newFixture(t)
	h := newHook(t)
	ep, err := f.st.CreateEndpoint(context.Background(), f.tenant, h.srv.URL, "whsec_dGVzdA==")
	if err != nil {
		t.Fatal(err)
	}
	code, out := f.do(t, "POST", "/api/v1/endpoints/"+ep.ID.String()+"/test", "")
	if code != 200 || out["delivered"] != false || out["statusCode"] != nil || !strings.Contains(out["error"].(string), "not public") {
		t.Errorf("test to loopback: %d %v", code, out)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.got) != 0 {
		t.Error("the request reached a loopback receiver")
	}
}
