package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
	"presencebridge/web/api/apitest"
)

// newEndpointFixture is newFixture with webhooks to loopback allowed, as
// in development, so endpoints can point at a receiver in the test.
func newEndpointFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	f.srv.Close()
	r := chi.NewRouter()
	r.Route("/api/v1", Routes(Deps{Store: f.st, Keys: f.keys, AllowLoopbackWebhooks: true}))
	f.srv = httptest.NewServer(apitest.Described(t, r))
	t.Cleanup(f.srv.Close)
	return f
}

// hook is a webhook receiver in the test: it keeps what arrives and
// answers status (204 by default) with body.
type hook struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []*http.Request
	bodies [][]byte
	status int
	body   string
}

func newHook(t *testing.T) *hook {
	t.Helper()
	h := &hook{status: http.StatusNoContent}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got, h.bodies = append(h.got, r), append(h.bodies, b)
		status, body := h.status, h.body
		h.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// last is the last request the receiver got, with its body.
func (h *hook) last(t *testing.T) (http.Header, []byte) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.got) == 0 {
		t.Fatal("the receiver got nothing")
	}
	return h.got[len(h.got)-1].Header, h.bodies[len(h.bodies)-1]
}

// create makes an endpoint through the API and returns it and its secret.
func (f *fixture) create(t *testing.T, url string) (map[string]any, string) {
	t.Helper()
	code, out := f.do(t, "POST", "/api/v1/endpoints", `{"url":"`+url+`","description":"contact center"}`)
	ep, _ := out["endpoint"].(map[string]any)
	secret, _ := out["secret"].(string)
	if code != 201 || ep == nil || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("create %s: %d %v", url, code, out)
	}
	return ep, secret
}

// detail is a problem's first error: where, and what.
func detail(p map[string]any) (string, string) {
	errs, _ := p["errors"].([]any)
	if len(errs) == 0 {
		return "", ""
	}
	e := errs[0].(map[string]any)
	loc, _ := e["location"].(string)
	msg, _ := e["message"].(string)
	return loc, msg
}

func TestAnEndpointIsCreatedWithItsSecretShownOnceAndReadWithAnETag(t *testing.T) {
	f := newFixture(t)
	resp, out := f.as(t, f.key, "POST", "/api/v1/endpoints", `{"url":"https://platform.example/hook?token=abc","description":"contact center"}`)
	secret, _ := out["secret"].(string)
	ep, _ := out["endpoint"].(map[string]any)
	if resp.StatusCode != 201 || !strings.HasPrefix(secret, "whsec_") || ep["description"] != "contact center" || ep["enabled"] != true ||
		resp.Header.Get("ETag") == "" || resp.Header.Get("Location") != "/api/v1/endpoints/"+ep["id"].(string) {
		t.Fatalf("create: %d %v %v", resp.StatusCode, resp.Header, out)
	}
	got, body := f.as(t, f.key, "GET", "/api/v1/endpoints/"+ep["id"].(string), "")
	if got.StatusCode != 200 || got.Header.Get("ETag") != resp.Header.Get("ETag") || body["url"] != "https://platform.example/hook?token=abc" ||
		body["secret"] != nil {
		t.Errorf("get: %d %q %v", got.StatusCode, got.Header.Get("ETag"), body)
	}
	_, listed := f.do(t, "GET", "/api/v1/endpoints", "")
	if eps, _ := listed["data"].([]any); len(eps) != 1 || strings.Contains(mustJSON(t, listed), secret[6:]) {
		t.Errorf("list: %v", listed)
	}
	audit, err := f.st.AuditLog(context.Background(), f.tenant, 10)
	if err != nil || len(audit) != 1 || audit[0].Action != "endpoint.created" || audit[0].Detail["host"] != "platform.example" ||
		strings.Contains(mustJSON(t, audit), "token=abc") {
		t.Errorf("audit log: %+v, %v", audit, err)
	}
	// Sealed at rest: the secret is nowhere in clear.
	storetest.RequireNotStored(t, f.st.Pool(), secret)
}

func TestCreatingAnEndpointRefusesAURLThatCannotReceiveEventsNamingTheField(t *testing.T) {
	f := newFixture(t) // loopback not allowed, as in production
	for _, url := range []string{"http://platform.example/hook", "https://10.0.0.5/hook", "http://127.0.0.1:9/hook", "not a url"} {
		code, p := f.do(t, "POST", "/api/v1/endpoints", `{"url":"`+url+`"}`)
		if loc, msg := detail(p); code != 422 || loc != "body.url" || msg == "" {
			t.Errorf("%s: %d %v", url, code, p)
		}
	}
	if code, p := f.do(t, "POST", "/api/v1/endpoints", `{"description":"no url"}`); code != 422 {
		t.Errorf("no url: %d %v", code, p)
	}
	if eps, _ := f.st.Endpoints(context.Background(), f.tenant); len(eps) != 0 {
		t.Errorf("%d endpoints created from refused requests", len(eps))
	}
	// Where the deployment allows it (development), loopback is accepted.
	if code, _ := newEndpointFixture(t).do(t, "POST", "/api/v1/endpoints", `{"url":"http://127.0.0.1:9/hook"}`); code != 201 {
		t.Errorf("loopback in development: %d", code)
	}
}

func TestAnotherTenantsEndpointIsNotFoundOnEveryRoute(t *testing.T) {
	f := newFixture(t)
	other := storetest.Tenant(t, f.st.Pool(), "Other")
	oep, err := f.st.CreateEndpoint(context.Background(), other, "https://other.example/hook", "whsec_dGVzdA==")
	if err != nil {
		t.Fatal(err)
	}
	base := "/api/v1/endpoints/" + oep.ID.String()
	for _, r := range []struct{ method, path, body string }{
		{"GET", base, ""}, {"PATCH", base, `{"description":"mine now"}`}, {"DELETE", base, ""},
		{"POST", base + "/rotate-secret", ""}, {"POST", base + "/test", ""}, {"GET", base + "/deliveries", ""},
		{"POST", base + "/replay", `{"deliveryIds":[1]}`}, {"POST", base + "/enable", ""}, {"POST", base + "/retry", ""},
		{"GET", "/api/v1/endpoints/nope", ""}, {"DELETE", "/api/v1/endpoints/" + uuid.NewString(), ""},
	} {
		if code, p := f.do(t, r.method, r.path, r.body); code != 404 || p["title"] == nil {
			t.Errorf("%s %s: %d %v, want a 404 problem", r.method, r.path, code, p)
		}
	}
	if got, _ := f.st.GetEndpoint(context.Background(), other, oep.ID); got.Description != "" || got.SecretID != oep.SecretID {
		t.Errorf("the other tenant's endpoint changed: %+v", got)
	}
}

func TestPatchingAnEndpointChangesOnlyTheFieldsGivenUnderIfMatch(t *testing.T) {
	f := newFixture(t)
	ep, _ := f.create(t, "https://platform.example/hook")
	path := "/api/v1/endpoints/" + ep["id"].(string)
	first, _ := f.as(t, f.key, "GET", path, "")
	etag := first.Header.Get("ETag")
	patch := func(ifMatch, body string) (*http.Response, map[string]any) {
		h := http.Header{"Authorization": {"Bearer " + f.key}, "Content-Type": {"application/merge-patch+json"}}
		if ifMatch != "" {
			h.Set("If-Match", ifMatch)
		}
		return f.request(t, "PATCH", path, body, h)
	}
	resp, out := patch(etag, `{"description":"wallboard"}`)
	if resp.StatusCode != 200 || out["description"] != "wallboard" || out["url"] != "https://platform.example/hook" ||
		resp.Header.Get("ETag") == etag {
		t.Fatalf("patch: %d %v", resp.StatusCode, out)
	}
	if resp, p := patch(etag, `{"description":"stale"}`); resp.StatusCode != 412 || p["detail"] == nil {
		t.Errorf("patch with the old ETag: %d %v", resp.StatusCode, p)
	}
	for body, field := range map[string]string{
		`{"url":"http://platform.example/hook"}`:             "body.url",
		`{"url":null}`:                                       "body.url",
		`{"enabled":null}`:                                   "body.enabled",
		`{"description":"` + strings.Repeat("x", 501) + `"}`: "body.description",
	} {
		if resp, p := patch("", body); resp.StatusCode != 422 {
			t.Errorf("%s: %d %v", body[:min(len(body), 40)], resp.StatusCode, p)
		} else if loc, _ := detail(p); loc != field {
			t.Errorf("%s: names %q, want %s", body[:min(len(body), 40)], loc, field)
		}
	}
	if resp, p := patch("", `{"secret":"whsec_x"}`); resp.StatusCode != 422 || !strings.Contains(p["detail"].(string), "unknown field") {
		t.Errorf("unknown field: %d %v", resp.StatusCode, p)
	}
	if resp, _ := patch("", `not json`); resp.StatusCode != 400 {
		t.Errorf("not JSON: %d", resp.StatusCode)
	}

	// Disabling ends the pending deliveries as dead, replayable later.
	f.change(t, uuid.New(), "InACall")
	resp, out = patch("*", `{"enabled":false}`)
	if resp.StatusCode != 200 || out["enabled"] != false || out["deadDeliveries"] != float64(1) || out["disabledReason"] == "" {
		t.Errorf("disable: %d %v", resp.StatusCode, out)
	}
	if resp, out := patch("", `{"enabled":true,"url":"https://platform.example/v2"}`); resp.StatusCode != 200 || out["enabled"] != true ||
		out["url"] != "https://platform.example/v2" || out["disabledReason"] != nil {
		t.Errorf("enable and move: %d %v", resp.StatusCode, out)
	}
	audit, _ := f.st.AuditLog(context.Background(), f.tenant, 10)
	if len(audit) != 4 || audit[0].Action != "endpoint.updated" || audit[0].Detail["enabled"] != true || audit[1].Detail["enabled"] != false ||
		audit[2].Detail["description"] != "wallboard" {
		t.Errorf("audit log: %s", mustJSON(t, audit))
	}
}

func TestDeletingAnEndpointDropsItsPendingDeliveries(t *testing.T) {
	f := newFixture(t)
	ep, _ := f.create(t, "https://platform.example/hook")
	path := "/api/v1/endpoints/" + ep["id"].(string)
	f.change(t, uuid.New(), "InACall")
	f.change(t, uuid.New(), "InACall")
	h := http.Header{"Authorization": {"Bearer " + f.key}, "If-Match": {`"stale"`}}
	if resp, _ := f.request(t, "DELETE", path, "", h); resp.StatusCode != 412 {
		t.Errorf("delete with a stale ETag: %d", resp.StatusCode)
	}
	if code, p := f.do(t, "DELETE", path, ""); code != 204 {
		t.Fatalf("delete: %d %v", code, p)
	}
	if code, _ := f.do(t, "GET", path, ""); code != 404 {
		t.Errorf("get after delete: %d", code)
	}
	var left int
	f.st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM deliveries`).Scan(&left)
	if left != 0 {
		t.Errorf("%d deliveries left", left)
	}
	audit, _ := f.st.AuditLog(context.Background(), f.tenant, 1)
	if len(audit) != 1 || audit[0].Action != "endpoint.deleted" || audit[0].Detail["pendingDropped"] != float64(2) {
		t.Errorf("audit log: %s", mustJSON(t, audit))
	}
}

// TestReplayByIdsOrFromATimeKeepsEachUsersOrder: a replay of some
// deliveries puts back only those; ids of no dead or superseded delivery
// are counted as ignored; a dead delivery older than one its user's
// endpoint received stays kept.
func TestReplayByIdsOrFromATimeKeepsEachUsersOrder(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ep, err := f.st.CreateEndpoint(ctx, f.tenant, "https://platform.example/hook", "whsec_dGVzdA==")
	if err != nil {
		t.Fatal(err)
	}
	ann, bob := uuid.New(), uuid.New()
	f.change(t, ann, "InACall")
	f.change(t, bob, "InACall")
	f.change(t, bob, "InAMeeting")
	ds, _ := f.st.EndpointDeliveries(ctx, f.tenant, ep.ID, store.DeliveryPage{Limit: 10}) // bob 2, bob 1, ann 1
	testkit.Exec(t, f.st.Pool(), `UPDATE deliveries SET status = 'dead' WHERE id = ANY($1)`, []int64{ds[1].ID, ds[2].ID})
	testkit.Exec(t, f.st.Pool(), `UPDATE deliveries SET status = 'delivered' WHERE id = $1`, ds[0].ID)
	path := "/api/v1/endpoints/" + ep.ID.String() + "/replay"
	body, _ := json.Marshal(map[string]any{"deliveryIds": []int64{ds[1].ID, ds[0].ID, 424242}})
	code, out := f.do(t, "POST", path, string(body))
	if code != 202 || out["replayed"] != float64(0) || out["kept"] != float64(1) || out["ignored"] != float64(2) {
		t.Errorf("replay bob's first (older than his delivered second): %d %v", code, out)
	}
	code, out = f.do(t, "POST", path, `{"since":"2000-01-01T00:00:00Z"}`)
	if code != 202 || out["replayed"] != float64(1) || out["kept"] != float64(1) || out["ignored"] != float64(0) {
		t.Errorf("replay since: %d %v", code, out)
	}
	if code, p := f.do(t, "POST", path, `{"deliveryIds":[]}`); code != 422 {
		t.Errorf("no ids: %d %v", code, p)
	}
	// A disabled endpoint takes no replay: it would only wait there.
	testkit.Exec(t, f.st.Pool(), `UPDATE endpoints SET enabled = false WHERE id = $1`, ep.ID)
	if code, p := f.do(t, "POST", path, `{"since":"2000-01-01T00:00:00Z"}`); code != 409 || p["detail"] != "The endpoint is disabled: enable it first." {
		t.Errorf("replay while disabled: %d %v", code, p)
	}
	audit, _ := f.st.AuditLog(ctx, f.tenant, 2)
	if len(audit) != 2 || audit[1].Detail["deliveryIds"] != float64(3) || audit[0].Detail["since"] == nil {
		t.Errorf("audit log: %s", mustJSON(t, audit))
	}
}

func TestAnEndpointsDeliveriesArePagedNewestFirstAndFilteredByStatus(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ep, _ := f.st.CreateEndpoint(ctx, f.tenant, "https://platform.example/hook", "whsec_dGVzdA==")
	for range 3 {
		f.change(t, uuid.New(), "InACall")
	}
	testkit.Exec(t, f.st.Pool(), `UPDATE deliveries SET status = 'dead', attempts = 12, last_status = 500,
		last_error = 'HTTP 500: upstream down' WHERE id = (SELECT min(id) FROM deliveries)`)
	path := "/api/v1/endpoints/" + ep.ID.String() + "/deliveries"
	code, page := f.do(t, "GET", path+"?limit=2", "")
	data, _ := page["data"].([]any)
	if code != 200 || len(data) != 2 || page["nextCursor"] == nil || data[0].(map[string]any)["status"] != "pending" ||
		data[0].(map[string]any)["nextAttemptAt"] == nil {
		t.Fatalf("first page: %d %v", code, page)
	}
	code, rest := f.do(t, "GET", path+"?limit=2&cursor="+page["nextCursor"].(string), "")
	data, _ = rest["data"].([]any)
	if code != 200 || len(data) != 1 || rest["nextCursor"] != nil {
		t.Fatalf("second page: %d %v", code, rest)
	}
	last := data[0].(map[string]any)
	if last["status"] != "dead" || last["attempts"] != float64(12) || last["lastStatusCode"] != float64(500) ||
		last["lastError"] != "HTTP 500: upstream down" || last["eventId"] == nil || last["user"].(map[string]any)["objectId"] == nil {
		t.Errorf("dead delivery: %v", last)
	}
	if _, dead := f.do(t, "GET", path+"?status=dead", ""); len(dead["data"].([]any)) != 1 {
		t.Errorf("dead only: %v", dead)
	}
	for _, q := range []string{"?status=failed", "?cursor=!!", "?limit=0"} {
		if code, p := f.do(t, "GET", path+q, ""); code != 422 {
			t.Errorf("%s: %d %v", q, code, p)
		}
	}
}

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
