package tenantui_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"presencebridge/internal/keycache"
	"presencebridge/internal/store"
	"presencebridge/static"
	"presencebridge/web/api"
	"presencebridge/web/api/apitest"
	"presencebridge/web/portal/portaltest"
)

var presenceJSONRE = regexp.MustCompile(`(?s)<textarea id="presence-json"[^>]*>(.*?)</textarea>`)

func TestTheCopiedPresenceDataIsTheAPIsPresenceBodyByteForByte(t *testing.T) {
	p := portaltest.New(t)
	alex := resolvedRoster(t, p, 1)[p.Seed.Tenants[0].Users[0].UPN]
	presenceChange(t, p, *alex.ObjectID, "Busy", "InACall", "talking")
	b := p.Browser()
	b.SignIn()
	pg := b.Get(userPage(alex.UPN))
	m := presenceJSONRE.FindStringSubmatch(pg.Body)
	if m == nil {
		t.Fatalf("the page has no presence data to copy:\n%s", pg.Body)
	}
	copied := html.UnescapeString(m[1])
	if !strings.Contains(pg.Body, `data-copy="presence-json"`) || !strings.Contains(pg.Body, `<script src="`+static.Path("js/copy.js")+`"`) {
		t.Error("the page has no Copy button working with the copy script")
	}

	srv := tenantAPI(t, p)
	key, _, err := p.Store.CreateAPIKey(t.Context(), p.Tenant.ID, store.NewAPIKey{Name: "wallboard", Scopes: []string{store.ScopePresenceRead}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{alex.ObjectID.String(), alex.UPN} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/users/"+url.PathEscape(ref)+"/presence", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /users/%s/presence: %d %s", ref, resp.StatusCode, body)
		}
		if copied != string(body) {
			t.Errorf("the page copies\n%s\nthe API answers\n%s", copied, body)
		}
	}
}

// tenantAPI serves the tenant API over the portal's database as the web
// role does (the API-key cache listening), every answer checked against
// its description.
func tenantAPI(t *testing.T, p *portaltest.Portal) *httptest.Server {
	t.Helper()
	keys := keycache.New(p.Store, keycache.Options{})
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go keys.Run(ctx)
	r := chi.NewRouter()
	r.Route("/api/v1", api.Routes(api.Deps{Store: p.Store, Keys: keys}))
	srv := httptest.NewServer(apitest.Described(t, r))
	t.Cleanup(srv.Close)
	return srv
}

// apiStatus is the status the tenant API answers GET path with key.
func apiStatus(t *testing.T, srv *httptest.Server, key, path string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
