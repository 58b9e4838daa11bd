package graphsim

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

const redirectURI = "https://bridge.example.com/onboarding/monitors/callback"

// fixture is a Sim on a real HTTP server, seeded with one app and two
// tenants, and a clock tests can move.
type fixture struct {
	t    *testing.T
	sim  *Sim
	srv  *httptest.Server
	seed Seed
	mu   sync.Mutex
	now  time.Time
}

func newFixture(t *testing.T) *fixture { t.Helper(); return newFixtureWith(t, nil) }

// newFixtureWith lets a test change the seed (the app's permissions, say)
// before it is applied.
func newFixtureWith(t *testing.T, change func(*Seed)) *fixture {
	t.Helper()
	f := &fixture{t: t, now: time.Now()}
	f.sim = New(Options{Clock: f.clock})
	f.srv = httptest.NewServer(f.sim.Handler())
	t.Cleanup(f.srv.Close)
	f.sim.SetBaseURL(f.srv.URL)
	f.seed = GenerateSeed(2, 3, 2, 42)
	f.seed.App.RedirectURIs = []string{redirectURI}
	f.seed.Tenants[1].Consented = false
	if change != nil {
		change(&f.seed)
	}
	if err := f.sim.Apply(f.seed); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func (f *fixture) tenant() SeedTenant       { return f.seed.Tenants[0] }
func (f *fixture) monitor() SeedUser        { return f.seed.Tenants[0].Monitors[0] }
func (f *fixture) tokenURL(t string) string { return f.srv.URL + "/" + t + "/oauth2/v2.0/token" }

// oauthConfig is the product's monitor sign-in configuration.
func (f *fixture) oauthConfig(tenant string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     f.seed.App.ClientID,
		ClientSecret: f.seed.App.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:  f.srv.URL + "/" + tenant + "/oauth2/v2.0/authorize",
			TokenURL: f.tokenURL(tenant),
		},
		RedirectURL: redirectURI,
		Scopes:      []string{"offline_access", "openid", "profile", "Presence.Read.All", "User.ReadBasic.All"},
	}
}

// browser follows the sign-in like a person: fetch the page, post the form,
// stop at the redirect to the client and return its parameters.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

var reqField = regexp.MustCompile(`name="req" value="([^"]+)"`)

// open GETs a page and returns status, body and the hidden req id.
func (b *browser) open(u string) (int, string, string) {
	b.t.Helper()
	resp, err := b.client.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := reqField.FindStringSubmatch(string(body))
	req := ""
	if m != nil {
		req = m[1]
	}
	return resp.StatusCode, string(body), req
}

// post submits a form to u; it returns the redirect's query (nil if the
// answer was a page) and the page body.
func (b *browser) post(u string, form url.Values) (url.Values, string) {
	b.t.Helper()
	resp, err := b.client.PostForm(u, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusFound {
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			b.t.Fatal(err)
		}
		return loc.Query(), string(body)
	}
	return nil, string(body)
}

// signIn runs the whole authorize flow for user and returns the redirect
// parameters (code and state, or an error).
func (b *browser) signIn(authURL, upn, password string) url.Values {
	b.t.Helper()
	status, body, req := b.open(authURL)
	if status != 200 || req == "" {
		b.t.Fatalf("sign-in page: %d\n%s", status, body)
	}
	page, _ := url.Parse(authURL)
	page.RawQuery = ""
	q, body := b.post(page.String(), url.Values{"req": {req}, "login": {upn}, "password": {password}, "action": {"signin"}})
	if q == nil {
		b.t.Fatalf("sign-in did not redirect; page:\n%s", body)
	}
	return q
}

func decodeJSON(t *testing.T, r io.Reader, v any) {
	t.Helper()
	if err := json.NewDecoder(r).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func ctx(t *testing.T) context.Context {
	return context.WithValue(t.Context(), oauth2.HTTPClient, http.DefaultClient)
}

var _ = strings.TrimSpace

func itoa(n int) string { return strconv.Itoa(n) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
