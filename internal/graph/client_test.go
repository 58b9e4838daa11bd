package graph

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"presencebridge/internal/graph/graphapi"
)

// The consumer view: domain packages hold a graphapi interface, never a
// *Client; this fails to compile when the two drift apart.
var (
	_ graphapi.PresenceReader   = (*Client)(nil)
	_ graphapi.PresenceWriter   = (*Client)(nil)
	_ graphapi.Subscriber       = (*Client)(nil)
	_ graphapi.Directory        = (*Client)(nil)
	_ graphapi.AppRegistrations = (*Client)(nil)
)

// graphapi must stay free of the SDK, or every consumer's test binary
// links it (make check-graph-deps guards the whole module the same way).
func TestGraphapiDoesNotLinkTheSDK(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list dependencies with")
	}
	out, err := exec.Command(gobin, "list", "-deps", "-test", "presencebridge/internal/graph/graphapi").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/microsoftgraph/") || strings.HasPrefix(dep, "github.com/microsoft/kiota") {
			t.Errorf("graphapi depends on %s", dep)
		}
	}
}

func TestNewRefusesMissingOrDoubleTokensAndRelativeBaseURLs(t *testing.T) {
	tok := func(context.Context) (string, error) { return "t", nil }
	for name, o := range map[string]Options{
		"no token":          {},
		"two token sources": {Token: tok, Tokens: staticTokens("t")},
		"relative base URL": {Token: tok, BaseURL: "/v1.0"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: New accepted %+v", name, o)
		}
	}
	c, err := New(Options{Token: tok})
	if err != nil || c.adapter.GetBaseUrl() != DefaultBaseURL {
		t.Errorf("default base URL: %v %v", c, err)
	}
}

// fakeGraph answers every request with status, content type and body, and
// records the Authorization header per host it was called on.
type fakeGraph struct {
	srv               *httptest.Server
	status            int
	contentType, body string
	mu                sync.Mutex
	auth              map[string]string
}

func newFakeGraph(t *testing.T, status int, contentType, body string) *fakeGraph {
	f := &fakeGraph{status: status, contentType: contentType, body: body, auth: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.auth[r.Host] = r.Header.Get("Authorization")
		f.mu.Unlock()
		if f.contentType != "" {
			w.Header().Set("Content-Type", f.contentType)
		}
		w.Header().Set("request-id", "fake-request-id")
		w.WriteHeader(f.status)
		io.WriteString(w, f.body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGraph) client(t *testing.T) *Client {
	t.Helper()
	c, err := New(Options{BaseURL: f.srv.URL + "/v1.0", Tokens: staticTokens("secret-token"), Retry: Retry{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Error bodies that are not Graph's JSON keep their status, and an error
// object without a message must not panic (ODataError.Error() would).
func TestErrorsKeepTheirStatusWhateverTheBody(t *testing.T) {
	cases := []struct {
		name, contentType, body string
		status                  int
		code                    string
	}{
		{"gateway HTML", "text/html", "<html><body>502 Bad Gateway</body></html>", 502, "Bad Gateway"},
		{"plain text", "text/plain", "Service Unavailable", 503, "Service Unavailable"},
		{"Graph error without message", "application/json", `{"error":{"code":"Forbidden"}}`, 403, "Forbidden"},
		{"JSON without error object", "application/json", `{"foo":"bar"}`, 400, ""},
		{"no body", "", "", 401, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeGraph(t, tc.status, tc.contentType, tc.body).client(t)
			_, err := c.GetPresence(t.Context(), "u1")
			ge, ok := graphapi.AsError(err)
			if !ok || ge.Status != tc.status || ge.Code != tc.code || ge.RequestID != "fake-request-id" {
				t.Fatalf("error = %#v (%v)", ge, err)
			}
			_ = err.Error() // must not panic
		})
	}
}

// The token goes to the base URL's host only: an absolute nextLink to
// another host is followed without it.
func TestTokenIsSentOnlyToAllowedHosts(t *testing.T) {
	foreign := newFakeGraph(t, 200, "application/json", `{"value":[]}`)
	foreignURL := strings.Replace(foreign.srv.URL, "127.0.0.1", "localhost", 1) // another host name, same machine
	home := newFakeGraph(t, 200, "application/json", `{"value":[{"id":"s1"}],"@odata.nextLink":"`+foreignURL+`/v1.0/subscriptions?$skiptoken=x"}`)
	subs, err := home.client(t).ListSubscriptions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 1 {
		t.Errorf("subscriptions: %+v", subs)
	}
	home.mu.Lock()
	defer home.mu.Unlock()
	foreign.mu.Lock()
	defer foreign.mu.Unlock()
	if home.auth[strings.TrimPrefix(home.srv.URL, "http://")] != "Bearer secret-token" {
		t.Errorf("home host got %v", home.auth)
	}
	if len(foreign.auth) != 1 {
		t.Fatalf("nextLink not followed: %v", foreign.auth)
	}
	for host, a := range foreign.auth {
		if a != "" {
			t.Errorf("foreign host %s got Authorization %q", host, a)
		}
	}
}

// New keeps the SDK's middleware: telemetry (SdkVersion, client-request-id)
// and kiota's User-Agent reach the wire through our own transport.
func TestDefaultGraphMiddlewareIsKept(t *testing.T) {
	e := newEnv(t)
	c, rec := e.app()
	if _, err := c.GetPresence(t.Context(), e.Tenant.Users[0].ID.String()); err != nil {
		t.Fatal(err)
	}
	reqs := rec.Requests("/presence")
	if len(reqs) != 1 {
		t.Fatalf("requests: %+v", reqs)
	}
	h := reqs[0].Header
	if !strings.Contains(h.Get("SdkVersion"), "graph-go/"+sdkVersion) || h.Get("client-request-id") == "" ||
		!strings.Contains(h.Get("User-Agent"), "kiota-go") || !strings.HasPrefix(h.Get("Authorization"), "Bearer ") {
		t.Errorf("request headers: %v", h)
	}
	// Graph answers with its request ids; client-request-id echoes ours.
	rh := reqs[0].RespHeader
	if rh.Get("request-id") == "" || rh.Get("client-request-id") != h.Get("client-request-id") {
		t.Errorf("response headers: %v", rh)
	}
}

func TestTokenFunctionErrorsAreNotGraphErrors(t *testing.T) {
	e := newEnv(t)
	boom := errors.New("monitor needs to sign in again")
	c, err := New(Options{BaseURL: e.Base + "/v1.0", Token: func(context.Context) (string, error) { return "", boom }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetPresence(t.Context(), e.Tenant.Users[0].ID.String())
	if !errors.Is(err, boom) {
		t.Errorf("error = %v, want the token error", err)
	}
	if _, ok := graphapi.AsError(err); ok {
		t.Errorf("a token failure reads as a Graph answer: %v", err)
	}
}

func TestExpiredOrForeignTokenIsUnauthorized(t *testing.T) {
	e := newEnv(t)
	c, err := New(Options{BaseURL: e.Base + "/v1.0", Token: func(context.Context) (string, error) { return "not-a-jwt", nil }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetPresence(t.Context(), e.Tenant.Users[0].ID.String())
	graphError(t, err, http.StatusUnauthorized, "InvalidAuthenticationToken")
	if !graphapi.IsAuth(err) || graphapi.IsForbidden(err) {
		t.Errorf("IsAuth/IsForbidden wrong for %v", err)
	}
}

func staticTokens(tok string) oauth2.TokenSource {
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok})
}
