package graphsim

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
)

type batchAnswer struct {
	Responses []struct {
		ID      string            `json:"id"`
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"responses"`
}

// postBatch sends a $batch and returns the raw answer.
func (f *fixture) postBatch(token string, requests []map[string]any, headers ...string) graphResponse {
	f.t.Helper()
	b, err := json.Marshal(map[string]any{"requests": requests})
	if err != nil {
		f.t.Fatal(err)
	}
	return f.send(token, http.MethodPost, "/v1.0/$batch", b, append([]string{"Content-Type", "application/json"}, headers...)...)
}

// batch sends a $batch that must parse and returns the responses by id.
func (f *fixture) batch(token string, requests []map[string]any) map[string]batchItem {
	f.t.Helper()
	res := f.postBatch(token, requests)
	if res.status != http.StatusOK {
		f.t.Fatalf("$batch: %d %s", res.status, res.body)
	}
	var a batchAnswer
	res.json(f.t, &a)
	out := map[string]batchItem{}
	for _, r := range a.Responses {
		out[r.ID] = batchItem{r.Status, r.Headers, r.Body}
	}
	if len(out) != len(requests) {
		f.t.Fatalf("%d responses for %d requests: %s", len(out), len(requests), res.body)
	}
	return out
}

type batchItem struct {
	status  int
	headers map[string]string
	body    json.RawMessage
}

func (b batchItem) errorCode(t *testing.T) string {
	t.Helper()
	var e graphError
	if err := json.Unmarshal(b.body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("inner body is not a Graph error: %s", b.body)
	}
	return e.Error.Code
}

func step(id, method, url string) map[string]any {
	return map[string]any{"id": id, "method": method, "url": url}
}

func TestBatchRunsEachRequestThroughGraph(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	adele := ten.Users[0]
	sdkID := uuid.NewString()
	got := f.batch(f.appToken(ten), []map[string]any{
		// As msgraph-sdk-go serialises a step (docs/graph.md#msgraph-sdk-go): lower-case headers, body null, empty dependsOn.
		{"id": sdkID, "method": "GET", "url": "/users/" + strings.ReplaceAll(adele.UPN, "@", "%40") + "?$select=id,displayName",
			"headers": map[string]string{"accept": "application/json"}, "body": nil, "dependsOn": []string{}},
		{"id": "2", "method": "POST", "url": "/communications/getPresencesByUserId",
			"headers": map[string]string{"Content-Type": "application/json"}, "body": map[string]any{"ids": []string{adele.ID.String()}}},
		{"id": "3", "method": "GET", "url": "/users?$select=id&$filter=mail eq '" + adele.UPN + "'",
			"headers": map[string]string{"ConsistencyLevel": "eventual"}},
		step("4", "GET", "/me"),
	})
	var u map[string]any
	if err := json.Unmarshal(got[sdkID].body, &u); err != nil || got[sdkID].status != 200 || u["id"] != adele.ID.String() {
		t.Fatalf("user step: %d %s", got[sdkID].status, got[sdkID].body)
	}
	if !strings.HasPrefix(got[sdkID].headers["Content-Type"], "application/json") {
		t.Fatalf("inner headers %v", got[sdkID].headers)
	}
	var presences struct{ Value []map[string]any }
	if err := json.Unmarshal(got["2"].body, &presences); err != nil || got["2"].status != 200 || len(presences.Value) != 1 {
		t.Fatalf("presence step: %d %s", got["2"].status, got["2"].body)
	}
	var list page
	if err := json.Unmarshal(got["3"].body, &list); err != nil || len(list.Value) != 1 || list.Value[0]["id"] != adele.ID.String() {
		t.Fatalf("filter step: %d %s", got["3"].status, got["3"].body)
	}
	if got["4"].status != http.StatusBadRequest || got["4"].errorCode(t) != "BadRequest" {
		t.Fatalf("/me with an app token inside a batch: %d %s", got["4"].status, got["4"].body)
	}
}

func TestBatchInnerRequestsActAsTheCaller(t *testing.T) {
	f := newFixture(t)
	mon := f.monitor()
	got := f.batch(f.userToken(f.tenant(), mon), []map[string]any{step("me", "GET", "/me")})
	var u map[string]any
	if err := json.Unmarshal(got["me"].body, &u); err != nil || u["id"] != mon.ID.String() {
		t.Fatalf("/me in a delegated batch: %d %s", got["me"].status, got["me"].body)
	}
	res := f.postBatch("", []map[string]any{step("me", "GET", "/me")})
	wantGraphError(t, res, http.StatusUnauthorized, "InvalidAuthenticationToken", "")
}

func TestBatchRefusesMalformedPayloads(t *testing.T) {
	f := newFixture(t)
	tok := f.appToken(f.tenant())
	var twentyOne []map[string]any
	for i := range 21 {
		twentyOne = append(twentyOne, step(fmt.Sprint(i), "GET", "/me"))
	}
	cases := []struct {
		name     string
		requests []map[string]any
		msg      string
	}{
		{"21 requests", twentyOne, "limit of 20"},
		{"duplicate ids differing in case", []map[string]any{step("a", "GET", "/me"), step("A", "GET", "/me")}, "not unique"},
		{"missing id", []map[string]any{{"method": "GET", "url": "/me"}}, "id"},
		{"body without headers", []map[string]any{{"id": "1", "method": "POST", "url": "/communications/getPresencesByUserId",
			"body": map[string]any{"ids": []string{}}}}, "Write request id : 1 does not contain Content-Type header or body."},
		{"body without Content-Type", []map[string]any{{"id": "1", "method": "POST", "url": "/communications/getPresencesByUserId",
			"headers": map[string]string{"Accept": "application/json"}, "body": map[string]any{"ids": []string{}}}}, "Content-Type"},
		{"absolute url", []map[string]any{step("1", "GET", "https://graph.microsoft.com/v1.0/me")}, "relative"},
		{"bad method", []map[string]any{step("1", "FETCH", "/me")}, "method"},
		{"unknown dependency", []map[string]any{{"id": "1", "method": "GET", "url": "/me", "dependsOn": []string{"9"}}}, "unknown request"},
		{"cycle", []map[string]any{{"id": "1", "method": "GET", "url": "/me", "dependsOn": []string{"2"}},
			{"id": "2", "method": "GET", "url": "/me", "dependsOn": []string{"1"}}}, "cycle"},
		{"empty", []map[string]any{}, "no requests"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantGraphError(t, f.postBatch(tok, c.requests), http.StatusBadRequest, "BadRequest", c.msg)
		})
	}
	wantGraphError(t, f.send(tok, http.MethodPost, "/v1.0/$batch", []byte(`{"requests":[`), "Content-Type", "application/json"),
		http.StatusBadRequest, "BadRequest", "")
	twenty := twentyOne[:20]
	if got := f.batch(tok, twenty); len(got) != 20 {
		t.Fatalf("20 requests must be accepted, got %d answers", len(got))
	}
}

func TestBatchFailedDependencyGives424(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	got := f.batch(f.appToken(ten), []map[string]any{
		// Listed before its dependency: it must still run after it.
		{"id": "3", "method": "GET", "url": "/users/" + ten.Users[0].ID.String(), "dependsOn": []string{"2"}},
		step("1", "GET", "/users/nobody@"+ten.Domain),
		{"id": "2", "method": "GET", "url": "/users/" + ten.Users[0].ID.String(), "dependsOn": []string{"1"}},
		step("4", "GET", "/users/"+ten.Users[1].ID.String()),
		{"id": "5", "method": "GET", "url": "/users/" + ten.Users[2].ID.String(), "dependsOn": []string{"4"}},
	})
	want := map[string]int{"1": 404, "2": 424, "3": 424, "4": 200, "5": 200}
	for id, st := range want {
		if got[id].status != st {
			t.Fatalf("request %s: status %d, want %d (%s)", id, got[id].status, st, got[id].body)
		}
	}
	if got["2"].errorCode(t) != "FailedDependency" || got["1"].errorCode(t) != "Request_ResourceNotFound" {
		t.Fatalf("inner error bodies: %s / %s", got["1"].body, got["2"].body)
	}
}

func TestBatchInnerRequestIsThrottledOnItsOwn(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	if st, body := f.ctl(http.MethodPost, "/faults/throttle", map[string]any{"class": "directory", "retryAfterSeconds": 7, "times": 1}); st != 201 {
		t.Fatalf("storm: %d %s", st, body)
	}
	got := f.batch(f.appToken(ten), []map[string]any{
		step("a", "GET", "/users/"+ten.Users[0].ID.String()),
		{"id": "b", "method": "GET", "url": "/users/" + ten.Users[1].ID.String(), "dependsOn": []string{"a"}},
		step("c", "GET", "/users/"+ten.Users[2].ID.String()),
	})
	if got["a"].status != http.StatusTooManyRequests || got["a"].headers["Retry-After"] != "7" || got["a"].errorCode(t) != "TooManyRequests" {
		t.Fatalf("throttled inner request: %d %v %s", got["a"].status, got["a"].headers, got["a"].body)
	}
	if got["b"].status != http.StatusFailedDependency || got["c"].status != http.StatusOK {
		t.Fatalf("after the 429: b %d, c %d", got["b"].status, got["c"].status)
	}
}

func TestBatchAcceptsGzipAndBase64Bodies(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	inner := base64.StdEncoding.EncodeToString([]byte(`{"ids":["` + ten.Users[0].ID.String() + `"]}`))
	payload, _ := json.Marshal(map[string]any{"requests": []map[string]any{{"id": "1", "method": "POST",
		"url": "/communications/getPresencesByUserId", "headers": map[string]string{"content-type": "application/json"}, "body": inner}}})
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(payload)
	zw.Close()
	res := f.send(f.appToken(ten), http.MethodPost, "/v1.0/$batch", zipped.Bytes(),
		"Content-Type", "application/json", "Content-Encoding", "gzip")
	var a batchAnswer
	res.json(t, &a)
	if res.status != 200 || len(a.Responses) != 1 || a.Responses[0].Status != 200 {
		t.Fatalf("gzip batch with a base64 body: %d %s", res.status, res.body)
	}
	bad := []map[string]any{{"id": "1", "method": "POST", "url": "/communications/getPresencesByUserId",
		"headers": map[string]string{"Content-Type": "application/json"}, "body": "%%% not base64"}}
	got := f.batch(f.appToken(ten), bad)
	if got["1"].status != http.StatusBadRequest {
		t.Fatalf("bad base64 body: %d %s", got["1"].status, got["1"].body)
	}
}
