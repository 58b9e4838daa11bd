package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"presencebridge/internal/presence"
	"presencebridge/web/api/apitest"
)

// storedRows counts the rows a request of the API could have written.
func (f *fixture) storedRows(t *testing.T) int {
	t.Helper()
	var n int
	err := f.st.Pool().QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM audit_log) + (SELECT count(*) FROM api_keys) + (SELECT count(*) FROM endpoints) +
		(SELECT count(*) FROM directory_users) + (SELECT count(*) FROM idempotency_keys) +
		(SELECT count(*) FROM api_operations) + (SELECT count(*) FROM mapping_rules)`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Text PostgreSQL cannot hold — a NUL (U+0000), bytes that are not UTF-8 —
// is refused where it enters the API, naming where it was: 400 in the path
// or the query, 422 in a body. Before, the database refused it and the
// caller saw a 503 ("invalid byte sequence for encoding UTF8: 0x00").
// (A JSON body's bytes that are not UTF-8 are read as U+FFFD, as
// encoding/json does, so only its \u0000 is a case.)
func TestTextTheDatabaseCannotHoldIsRefusedNamingWhereItWas(t *testing.T) {
	f := newFixture(t)
	f.srv.Close()
	w := &answers{}
	d := Deps{Store: f.st, Keys: f.keys, AllowLoopbackWebhooks: true, RateLimit: DefaultRateLimit}
	f.srv = httptest.NewServer(apitest.Described(t, resourceRoutes(d, Resources{Writes: Writes{Writer: w}})))
	t.Cleanup(f.srv.Close)
	f.activate(t)
	f.resolved(t, f.tenant, nil, "adele@contoso.example")
	ep, _ := f.create(t, "http://127.0.0.1:9/hook")
	endpoint := "/api/v1/endpoints/" + ep["id"].(string)
	nulRules := rulesJSON(t, func(r *presence.Rules) {
		r.Overrides = map[string]presence.State{"Busy/In\x00ACall": presence.Busy}
	})

	for _, c := range []struct {
		name, method, path, body string
		header                   []string
		status                   int
		location                 string
	}{
		{"a key's name", "POST", "/api/v1/api-keys", `{"name":"wall\u0000board","scopes":["admin"]}`, nil, 422, "body.name"},
		{"an endpoint's description", "POST", "/api/v1/endpoints", `{"url":"http://127.0.0.1:9/h","description":"a\u0000b"}`, nil, 422, "body.description"},
		{"an endpoint's URL", "POST", "/api/v1/endpoints", `{"url":"http://127.0.0.1:9/h\u0000"}`, nil, 422, "body.url"},
		{"an endpoint's description patched", "PATCH", endpoint, `{"description":"a\u0000b"}`, []string{"Content-Type", "application/merge-patch+json"}, 422, "body.description"},
		{"a user in the path", "GET", "/api/v1/users/adele%00@contoso.example", "", nil, 400, "path.id"},
		{"a user in the path, not UTF-8", "GET", "/api/v1/users/adele%FF@contoso.example", "", nil, 400, "path.id"},
		{"a user to remove", "DELETE", "/api/v1/users/adele%00@contoso.example", "", nil, 400, "path.id"},
		{"a user to remove, keyed", "DELETE", "/api/v1/users/adele%00@contoso.example", "", []string{"Idempotency-Key", "k1"}, 400, "path.id"},
		{"a user's presence", "GET", "/api/v1/users/adele%00@contoso.example/presence", "", nil, 400, "path.id"},
		{"a user's presence written", "PUT", "/api/v1/users/adele%00@contoso.example/presence", `{"availability":"Busy","activity":"InACall"}`, nil, 400, "path.id"},
		{"a status message", "PUT", "/api/v1/users/adele@contoso.example/status-message", `{"message":"at\u0000lunch"}`, nil, 422, "body.message"},
		{"the users' search", "GET", "/api/v1/users?q=adele%00", "", nil, 400, "query.q"},
		{"the users' search, not UTF-8", "GET", "/api/v1/users?q=%FE%FF", "", nil, 400, "query.q"},
		{"the users' cursor", "GET", "/api/v1/users?cursor=YQBi", "", nil, 422, "query.cursor"}, // "a\x00b"
		{"a user to sync", "POST", "/api/v1/sync", `{"userId":"adele\u0000@contoso.example"}`, nil, 422, "body.userId"},
		{"a user to add", "POST", "/api/v1/users:bulk", `{"users":[{"upn":"al\u0000an@contoso.example"}]}`, nil, 422, "body.users[0].upn"},
		{"a mapping rule", "PUT", "/api/v1/mapping-rules", `{"rules":` + nulRules + `}`, nil, 422, ""},
		{"a mapping rule patched", "PATCH", "/api/v1/mapping-rules", `{"rules":{"overrides":{"Busy/In\u0000ACall":"busy"}}}`, []string{"Content-Type", "application/merge-patch+json"}, 422, ""},
		{"an Idempotency-Key not UTF-8", "POST", "/api/v1/api-keys", `{"name":"wallboard","scopes":["admin"]}`, []string{"Idempotency-Key", "k\xff"}, 400, "header.Idempotency-Key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := f.storedRows(t)
			h := headers(f.key, c.header...)
			resp, p := f.request(t, c.method, c.path, c.body, h)
			loc, msg := detail(p)
			if resp.StatusCode != c.status || !strings.HasPrefix(loc, c.location) {
				t.Errorf("%d %s %q %v, want %d at %s", resp.StatusCode, loc, msg, p, c.status, c.location)
			}
			if after := f.storedRows(t); after != before {
				t.Errorf("%d rows stored", after-before)
			}
		})
	}
	if len(w.got) != 0 {
		t.Errorf("the writer was called: %v", w.got)
	}
}

// An API key that is not UTF-8 is unknown (401), not a failure to check
// it (503).
func TestAKeyThatIsNotUTF8IsUnknown(t *testing.T) {
	f := newFixture(t)
	r := chi.NewRouter()
	r.Route("/api/v1", Routes(Deps{Store: f.st, Keys: f.keys}))
	srv := httptest.NewServer(apitest.Described(t, r))
	t.Cleanup(srv.Close)
	for _, key := range []string{"pbk_\xff\xfe_secret", "pbk_abcdefgh_\xff", "\xff"} {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/api-keys", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("key %q: %d, want 401", key, resp.StatusCode)
		}
	}
}
