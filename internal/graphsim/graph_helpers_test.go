package graphsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// userToken signs a user in with the password grant and returns a Graph
// access token carrying the app's consented delegated scopes.
func (f *fixture) userToken(tenant SeedTenant, user SeedUser) string {
	f.t.Helper()
	cfg := f.oauthConfig(tenant.ID.String())
	cfg.Scopes = []string{"https://graph.microsoft.com/.default", "offline_access"}
	tok, err := cfg.PasswordCredentialsToken(ctx(f.t), user.UPN, user.Password)
	if err != nil {
		f.t.Fatalf("password grant for %s: %v", user.UPN, err)
	}
	return tok.AccessToken
}

// appToken is an app-only Graph token for tenant.
func (f *fixture) appToken(tenant SeedTenant) string {
	f.t.Helper()
	cc := clientcredentials.Config{ClientID: f.seed.App.ClientID, ClientSecret: f.seed.App.ClientSecret,
		TokenURL: f.tokenURL(tenant.ID.String()), Scopes: []string{"https://graph.microsoft.com/.default"},
		AuthStyle: oauth2.AuthStyleInParams}
	tok, err := cc.Token(ctx(f.t))
	if err != nil {
		f.t.Fatalf("client credentials for %s: %v", tenant.Domain, err)
	}
	return tok.AccessToken
}

// graphResponse is a raw Graph answer.
type graphResponse struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into v, failing the test when it is not JSON.
func (g graphResponse) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(g.body, v); err != nil {
		t.Fatalf("body is not JSON (%v): %s", err, g.body)
	}
}

// graphErr is the body of a Graph error answer.
func (g graphResponse) graphErr(t *testing.T) graphErrorBody {
	t.Helper()
	var e graphError
	g.json(t, &e)
	if e.Error.Code == "" || e.Error.Message == "" || e.Error.InnerError["request-id"] == nil || e.Error.InnerError["date"] == nil {
		t.Fatalf("not a Graph error body: %s", g.body)
	}
	return e.Error
}

// call sends a Graph request with a bearer token; body is JSON-encoded
// unless it is a []byte.
func (f *fixture) call(token, method, path string, body any) graphResponse {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			f.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx(f.t), method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return graphResponse{resp.StatusCode, resp.Header, b}
}
