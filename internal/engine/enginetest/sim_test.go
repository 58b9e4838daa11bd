package enginetest

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"presencebridge/internal/graph"
	"presencebridge/internal/graphsim"
	"presencebridge/internal/seal"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// These tests are the engine's acceptance suite: the engine drives the
// product's SDK-backed Graph client (internal/graph) against graphsim on
// loopback and a real PostgreSQL. They live in their own package, the one
// besides internal/graph allowed to link msgraph-sdk-go (make
// check-graph-deps), so the engine itself stays SDK-free.

// env is graphsim on a free loopback port with one tenant of 30 people and
// two monitors. The app may also write presence and read app registrations;
// a second, "limited" app holds only User.Read.All, for 403s.
type env struct {
	t       *testing.T
	sim     *graphsim.Sim
	mu      sync.Mutex
	skew    time.Duration // the Sim's clock runs this far ahead of real time
	base    string
	seed    graphsim.Seed
	ten     graphsim.SeedTenant
	limited graphsim.SeedApp
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t}
	e.sim = graphsim.New(graphsim.Options{Clock: e.now})
	sim := e.sim
	base, err := sim.Start(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seed := graphsim.GenerateSeed(1, 30, 2, 7)
	seed.App.Application = slices.Concat(graphsim.DefaultApplication, []string{"Presence.ReadWrite.All", "Application.Read.All"})
	seed.App.Delegated = slices.Concat(graphsim.DefaultDelegated, []string{"Presence.ReadWrite"})
	if err := sim.Apply(seed); err != nil {
		t.Fatal(err)
	}
	ten := seed.Tenants[0]
	limited := graphsim.SeedApp{ClientID: uuid.NewString(), ClientSecret: "limited~" + uuid.NewString(),
		DisplayName: "Limited", Delegated: []string{"User.ReadBasic.All", "offline_access"}, Application: []string{"User.Read.All"}}
	if err := sim.Apply(graphsim.Seed{App: limited, Tenants: []graphsim.SeedTenant{{ID: ten.ID, Domain: ten.Domain, Consented: true}}}); err != nil {
		t.Fatal(err)
	}
	e.base, e.seed, e.ten, e.limited = base, seed, ten, limited
	return e
}

func (e *env) now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return time.Now().Add(e.skew)
}

// advance moves the Sim's clock. Tokens issued before then expire by the
// Sim's clock while x/oauth2 still trusts them: build new clients after.
func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.skew += d
	e.mu.Unlock()
}

func (e *env) tokenURL() string { return e.base + "/" + e.ten.ID.String() + "/oauth2/v2.0/token" }

// appTokens is a client-credentials token source for the tenant.
func (e *env) appTokens(app graphsim.SeedApp) oauth2.TokenSource {
	cc := clientcredentials.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret, TokenURL: e.tokenURL(),
		Scopes: []string{"https://graph.microsoft.com/.default"}, AuthStyle: oauth2.AuthStyleInParams}
	return cc.TokenSource(e.t.Context())
}

// userTokens signs user in once (password grant) and refreshes from there.
func (e *env) userTokens(app graphsim.SeedApp, user graphsim.SeedUser) oauth2.TokenSource {
	e.t.Helper()
	cfg := &oauth2.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret,
		Endpoint: oauth2.Endpoint{TokenURL: e.tokenURL(), AuthStyle: oauth2.AuthStyleInParams},
		Scopes:   []string{"https://graph.microsoft.com/.default", "offline_access"}}
	tok, err := cfg.PasswordCredentialsToken(e.t.Context(), user.UPN, user.Password)
	if err != nil {
		e.t.Fatalf("password grant for %s: %v", user.UPN, err)
	}
	return cfg.TokenSource(e.t.Context(), tok)
}

// client builds a Client over ts; retries are off unless change turns them
// on, so throttling shows at once. The recorder sees every request.
func (e *env) client(ts oauth2.TokenSource, change ...func(*graph.Options)) (*graph.Client, *recorder) {
	e.t.Helper()
	rec := &recorder{next: http.DefaultTransport}
	opts := graph.Options{BaseURL: e.base + "/v1.0", Tokens: ts, Transport: rec, Retry: graph.Retry{Off: true}}
	for _, f := range change {
		f(&opts)
	}
	c, err := graph.New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return c, rec
}

// app is the product's app-only client; monitor(i) a monitor's delegated one.
func (e *env) app() (*graph.Client, *recorder) { return e.client(e.appTokens(e.seed.App)) }
func (e *env) monitor(i int) (*graph.Client, *recorder) {
	return e.client(e.userTokens(e.seed.App, e.ten.Monitors[i]))
}

func (e *env) userIDs() []string {
	ids := make([]string, len(e.ten.Users))
	for i, u := range e.ten.Users {
		ids[i] = u.ID.String()
	}
	return ids
}

// recorder is a transport under the SDK's middleware that keeps what went
// on the wire: after compression, with the SDK's headers.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	Method, URL string
	Header      http.Header
	Status      int
	RespHeader  http.Header
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	rec := recorded{Method: req.Method, URL: req.URL.String(), Header: req.Header.Clone()}
	if resp != nil {
		rec.Status, rec.RespHeader = resp.StatusCode, resp.Header.Clone()
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
	return resp, err
}

// requests are the recorded requests whose URL contains part.
func (r *recorder) requests(part string) []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recorded
	for _, q := range r.reqs {
		if strings.Contains(q.URL, part) {
			out = append(out, q)
		}
	}
	return out
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.reqs = nil
	r.mu.Unlock()
}

// ourTenant is the product's store on a fresh database holding one active
// tenant connected to the Microsoft tenant ms; ring seals its secrets.
func ourTenant(t *testing.T, ms uuid.UUID) (*store.Store, *seal.Ring, uuid.UUID) {
	t.Helper()
	pool := testkit.DB(t)
	ring := storetest.Ring(t)
	tenant := storetest.Tenant(t, pool, "Contoso")
	testkit.Exec(t, pool, `UPDATE tenants SET ms_tenant_id = $2, status = 'active' WHERE id = $1`, tenant, ms)
	return store.New(pool, ring), ring, tenant
}
