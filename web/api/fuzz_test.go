package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"
	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/apikeys"
	"presencebridge/internal/deliver"
	"presencebridge/internal/presence"
	"presencebridge/internal/roster"
	"presencebridge/internal/store"
)

// The API's JSON bodies as hostile input. Fuzzing the API itself costs a
// database round trip or more per input (authentication aside), a
// million inputs hours; so FuzzAPIBodies fuzzes what the handlers do
// before their first query: every operation that takes a body is
// registered again with its method, path, input type (the same huma
// schema and decoding) and errors, and a handler that runs the real
// handler's check of the decoded body (Rules.Validate, mergePatch and
// patched, apikeys.New.Check, deliver.Settings.Check, bulkInput.entries)
// and answers its refusal as the real one does (422, endpointFailed). The
// database's part of each operation is tested with a real database in
// the operation's own tests.

// bodyTarget is one operation that takes a body.
type bodyTarget struct {
	method, path, contentType string
	seeds                     []string
}

// accepted records what the handlers let through that they should not
// have: the fuzz function fails on it after the request.
type accepted struct{ violation string }

func (a *accepted) check(ok bool, format string, args ...any) (*struct{}, error) {
	if !ok && a.violation == "" {
		a.violation = fmt.Sprintf(format, args...)
	}
	return nil, nil
}

// bodyAPI serves the operations of bodyTargets as described above.
func bodyAPI(a *accepted) (http.Handler, huma.API) {
	r := chi.NewRouter()
	api := humachi.New(r, config())
	d := Deps{Logger: slog.New(slog.DiscardHandler)}
	register := func(method, path string, errs ...int) huma.Operation {
		op := operation(strings.Trim(strings.ReplaceAll(method+path, "/", "-"), "-"), method, path, path, store.ScopeAdmin, "Fuzz")
		op.Errors = append(op.Errors, errs...)
		return op
	}
	validRules := func(rules presence.Rules) (*struct{}, error) {
		if err := rules.Validate(); err != nil {
			return nil, huma.Error422UnprocessableEntity(err.Error())
		}
		_, err := json.Marshal(rules)
		return a.check(err == nil, "valid rules do not marshal: %v", err)
	}
	huma.Register(api, register(http.MethodPut, "/mapping-rules", http.StatusPreconditionFailed), func(_ context.Context, in *rulesInput) (*struct{}, error) {
		return validRules(in.Body.Rules)
	})
	huma.Register(api, register(http.MethodPatch, "/mapping-rules", http.StatusPreconditionFailed), func(_ context.Context, in *rulesPatchInput) (*struct{}, error) {
		out, err := mergePatch(rulesDoc{presence.DefaultRules()}, in.RawBody, "rule set")
		if err != nil {
			return nil, err
		}
		return validRules(out.Rules)
	})
	huma.Register(api, register(http.MethodPost, "/mapping-rules/preview"), func(_ context.Context, in *previewInput) (*struct{}, error) {
		if _, err := validRules(in.Body.Rules); err != nil {
			return nil, err
		}
		want := len(in.Body.Samples)
		if want == 0 {
			want = len(presence.PreviewSamples)
		}
		states := preview(in.Body.Rules, in.Body.Samples)
		return a.check(len(states) == want, "%d samples previewed as %d states", len(in.Body.Samples), len(states))
	})
	huma.Register(api, register(http.MethodPost, "/api-keys"), func(_ context.Context, in *createKeyInput) (*struct{}, error) {
		n := apikeys.New{Name: in.Body.Name, Scopes: in.Body.Scopes, ExpiresAt: in.Body.ExpiresAt}
		now := time.Now()
		if err := n.Check(now); err != nil {
			var bad *apikeys.Invalid
			a.check(errors.As(err, &bad), "apikeys.New.Check refused with %v, not an *apikeys.Invalid", err)
			return nil, huma.Error422UnprocessableEntity(err.Error())
		}
		unique := len(slices.Compact(slices.Sorted(slices.Values(n.Scopes)))) == len(n.Scopes)
		return a.check(n.Name != "" && len(n.Name) <= apikeys.MaxName && len(n.Scopes) > 0 && unique &&
			!slices.ContainsFunc(n.Scopes, func(s string) bool { return !slices.Contains(store.AllScopes, s) }) &&
			(n.ExpiresAt == nil || n.ExpiresAt.After(now)), "a key was let through as %+v", n)
	})
	huma.Register(api, register(http.MethodPost, "/endpoints"), func(ctx context.Context, in *createEndpointInput) (*struct{}, error) {
		s := deliver.Settings{URL: in.Body.URL, Description: in.Body.Description}
		if err := s.Check(false); err != nil {
			return nil, d.endpointFailed(ctx, "create endpoint", err)
		}
		return a.check(reachable(s.URL) && len(s.Description) <= deliver.MaxDescription, "an endpoint was let through as %+v", s)
	})
	huma.Register(api, register(http.MethodPatch, "/endpoints/{id}", http.StatusNotFound, http.StatusPreconditionFailed), func(ctx context.Context, in *endpointPatchInput) (*struct{}, error) {
		next, err := patched(store.Endpoint{URL: "https://events.example.com/presence", Description: "contact center", Enabled: true}, in.RawBody)
		if err != nil {
			return nil, err
		}
		s := deliver.Settings{URL: next.URL, Description: next.Description, Enabled: *next.Enabled}
		if err := s.Check(false); err != nil {
			return nil, d.endpointFailed(ctx, "change endpoint", err)
		}
		return a.check(reachable(s.URL) && len(s.Description) <= deliver.MaxDescription, "an endpoint change was let through as %+v", s)
	})
	huma.Register(api, register(http.MethodPost, "/endpoints/{id}/replay", http.StatusNotFound, http.StatusConflict), func(_ context.Context, in *replayInput) (*struct{}, error) {
		ok := in.Body == nil || in.Body.DeliveryIDs == nil ||
			len(in.Body.DeliveryIDs) >= 1 && len(in.Body.DeliveryIDs) <= 1000 && len(slices.Compact(slices.Sorted(slices.Values(in.Body.DeliveryIDs)))) == len(in.Body.DeliveryIDs)
		return a.check(ok, "a replay of %+v let through", in.Body)
	})
	huma.Register(api, register(http.MethodPost, "/endpoints/{id}/rotate-secret", http.StatusNotFound), func(_ context.Context, in *rotateInput) (*struct{}, error) {
		ok := in.Body == nil || in.Body.OverlapSeconds == nil || *in.Body.OverlapSeconds >= 0 && time.Duration(*in.Body.OverlapSeconds)*time.Second <= deliver.MaxOverlap
		return a.check(ok, "a rotation with %+v let through", in.Body)
	})
	huma.Register(api, register(http.MethodPost, "/users:bulk"), func(_ context.Context, in *bulkInput) (*struct{}, error) {
		entries, err := in.entries()
		if err != nil {
			return nil, err
		}
		ok := len(entries) == len(in.Body.Users) && !slices.ContainsFunc(entries, func(e roster.Entry) bool {
			return strings.ContainsRune(e.UPN+e.TelephonyID, 0) || !strings.Contains(e.UPN, "@")
		})
		return a.check(ok, "%d users let through as %q", len(in.Body.Users), entries)
	})
	huma.Register(api, register(http.MethodPut, "/users/source"), func(_ context.Context, in *rosterSourceInput) (*struct{}, error) {
		return a.check(in.Body.Kind == store.SourceList || in.Body.Kind == store.SourceGroup, "source kind %q let through", in.Body.Kind)
	})
	huma.Register(api, register(http.MethodPost, "/presence:batch"), func(_ context.Context, in *batchInput) (*struct{}, error) {
		// The handler reads each id with uuid.Parse, its error ignored:
		// the schema's format must refuse whatever it cannot read.
		bad := slices.IndexFunc(in.Body.IDs, func(id string) bool { _, err := uuid.Parse(id); return err != nil })
		return a.check(bad < 0 && len(in.Body.IDs) >= 1 && len(in.Body.IDs) <= 1000, "ids %q let through", in.Body.IDs)
	})
	huma.Register(api, register(http.MethodPut, "/users/{id}/presence", http.StatusNotFound), func(_ context.Context, in *presenceSetInput) (*struct{}, error) {
		e := in.Body.ExpiresInSeconds
		return a.check(e == 0 || e >= 300 && e <= 14400, "an expiry of %d s let through", e)
	})
	huma.Register(api, register(http.MethodPut, "/users/{id}/status-message", http.StatusNotFound), func(_ context.Context, in *statusMessageInput) (*struct{}, error) {
		return a.check(utf8.RuneCountInString(in.Body.Message) <= 280, "a message of %d characters let through", utf8.RuneCountInString(in.Body.Message))
	})
	huma.Register(api, register(http.MethodPost, "/sync", http.StatusNotFound), func(_ context.Context, in *syncInput) (*struct{}, error) {
		return a.check(in.Body == nil || utf8.RuneCountInString(in.Body.UserID) <= 256, "a sync of %+v let through", in.Body)
	})
	return r, api
}

// reachable is what an endpoint's URL must be: https (or, with loopback
// allowed, which the fuzzer does not), a host, and no literal address
// outside the public internet.
func reachable(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Hostname() == "localhost" {
		return false
	}
	ip, err := netip.ParseAddr(u.Hostname())
	return err != nil || deliver.Public(ip)
}

// FuzzAPIBodies: whatever the body of whichever operation, the answer is
// a 2xx or a problem+json 4xx the operation documents, never a 5xx; and a
// body the handler's check lets through decodes into a value that holds
// what the rest of the handler relies on (see bodyAPI).
func FuzzAPIBodies(f *testing.F) {
	a := &accepted{}
	h, api := bodyAPI(a)
	rules, _ := json.Marshal(presence.DefaultRules())
	targets := []bodyTarget{
		{http.MethodPut, "/mapping-rules", "application/json", []string{`{"rules":` + string(rules) + `}`,
			`{"rules":{"talkingInCall":true,"talkingInConferenceCall":true,"talkingInMeeting":false,"talkingPresenting":true,"availableIdle":"away",` +
				`"busyIdle":"busy","debounce":"3s","overrides":{"Busy/InACall":"dnd"},"workLocation":{"remote":"away"}}}`}},
		{http.MethodPatch, "/mapping-rules", "application/merge-patch+json", []string{`{"rules":{"talkingInMeeting":false}}`,
			`{"rules":{"overrides":{"Busy/InACall":"dnd","busy/inacall":null}}}`, `[]`}},
		{http.MethodPost, "/mapping-rules/preview", "application/json", []string{`{"rules":` + string(rules) + `,"samples":[{"availability":"Busy","activity":"InACall"}]}`}},
		{http.MethodPost, "/api-keys", "application/json", []string{`{"name":"contact center production","scopes":["presence:read","events:read"]}`,
			`{"name":"wallboard","scopes":["admin"],"expiresAt":"2030-01-01T00:00:00Z"}`}},
		{http.MethodPost, "/endpoints", "application/json", []string{`{"url":"https://events.example.com/presence","description":"contact center"}`,
			`{"url":"https://[64:ff9b::7f00:1]/x"}`, `{"url":"http://127.0.0.1:9091/webhook"}`}},
		{http.MethodPatch, "/endpoints/{id}", "application/merge-patch+json", []string{`{"enabled":false}`, `{"url":"https://10.0.0.1/"}`, `{"enabled":null}`}},
		{http.MethodPost, "/endpoints/{id}/replay", "application/json", []string{`{"deliveryIds":[1,2,3],"since":"2026-01-01T00:00:00Z"}`, `{}`}},
		{http.MethodPost, "/endpoints/{id}/rotate-secret", "application/json", []string{`{"overlapSeconds":86400}`, `{"overlapSeconds":604801}`}},
		{http.MethodPost, "/users:bulk", "application/json", []string{`{"users":[{"upn":"adele.vance@contoso.example","externalId":"1001"},{"upn":"alex@contoso.example"}]}`,
			`{"users":[{"upn":"a@contoso.example"},{"upn":"A@CONTOSO.EXAMPLE"}]}`}},
		{http.MethodPut, "/users/source", "application/json", []string{`{"kind":"group","groupId":"0d2a6e7c-3c1a-4a3e-9a55-1f6b2d7e8c90"}`, `{"kind":"list"}`}},
		{http.MethodPost, "/presence:batch", "application/json", []string{`{"ids":["fa8bf3dc-eca7-46b7-bad1-db199b62afc3"]}`, `{"ids":["{fa8bf3dc-eca7-46b7-bad1-db199b62afc3}"]}`}},
		{http.MethodPut, "/users/{id}/presence", "application/json", []string{`{"availability":"Busy","activity":"InACall","expiresInSeconds":3600}`}},
		{http.MethodPut, "/users/{id}/status-message", "application/json", []string{`{"message":"In a call","expiresAt":"2030-01-01T00:00:00Z"}`}},
		{http.MethodPost, "/sync", "application/json", []string{`{"userId":"adele.vance@contoso.example"}`, ``}},
	}
	for i, target := range targets {
		for _, body := range target.seeds {
			f.Add(uint8(i), []byte(body))
		}
	}
	f.Add(uint8(0), []byte(`{"rules":{"overrides":{"Busy/In\u0000Call":"dnd"}}}`))
	f.Add(uint8(3), []byte(`{"name":"\ud800","scopes":["admin","admin"]}`))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		target := targets[int(which)%len(targets)]
		path := strings.ReplaceAll(target.path, "{id}", "0d2a6e7c-3c1a-4a3e-9a55-1f6b2d7e8c90")
		req := httptest.NewRequest(target.method, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", target.contentType)
		rec := httptest.NewRecorder()
		a.violation = ""
		h.ServeHTTP(rec, req)
		what := fmt.Sprintf("%s %s %q", target.method, target.path, body)
		if a.violation != "" {
			t.Fatalf("%s: %s", what, a.violation)
		}
		if op := operationOf(api, target); op == nil || op.Responses[strconv.Itoa(rec.Code)] == nil {
			t.Fatalf("%s answered %d, which the operation does not document", what, rec.Code)
		}
		if rec.Code < 400 {
			return
		}
		var problem struct{ Status int }
		if rec.Code >= 500 || rec.Header().Get("Content-Type") != "application/problem+json" ||
			json.Unmarshal(rec.Body.Bytes(), &problem) != nil || problem.Status != rec.Code {
			t.Fatalf("%s answered %d %s %s", what, rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
		}
	})
}

// operationOf is target's operation in api's description.
func operationOf(api huma.API, target bodyTarget) *huma.Operation {
	item := api.OpenAPI().Paths[target.path]
	if item == nil {
		return nil
	}
	return map[string]*huma.Operation{http.MethodPut: item.Put, http.MethodPost: item.Post, http.MethodPatch: item.Patch}[target.method]
}
