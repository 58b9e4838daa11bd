// Package simtest is the test environment of the product's Graph client
// (internal/graph) and of the engine's acceptance suite
// (internal/engine/enginetest): graphsim on a free loopback port with one
// seeded tenant, a clock the tests can move ahead, token sources for the
// app and the monitors, and a transport that records what went on the wire.
//
// It imports neither internal/graph, whose own tests are package graph and
// would make that an import cycle, nor msgraph-sdk-go, which only those two
// test packages may link (make check-graph-deps): each builds its
// graph.Client over an Env itself.
package simtest

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"presencebridge/internal/graphsim"
)

// Env is graphsim on a free loopback port with one tenant of 30 people and
// two monitors. The app may also write presence and read app registrations;
// a second, "limited" app holds only User.Read.All, for 403s.
type Env struct {
	Sim     *graphsim.Sim
	Base    string // the Sim's URL, without a trailing slash
	Seed    graphsim.Seed
	Tenant  graphsim.SeedTenant // Seed.Tenants[0]
	Limited graphsim.SeedApp

	t    testing.TB
	mu   sync.Mutex
	skew time.Duration // the Sim's clock runs this far ahead of real time
}

// New starts the Sim for the length of t and seeds it.
func New(t testing.TB) *Env {
	t.Helper()
	e := &Env{t: t}
	e.Sim = graphsim.New(graphsim.Options{Clock: e.Now})
	sim := e.Sim
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
	e.Base, e.Seed, e.Tenant, e.Limited = base, seed, ten, limited
	return e
}

// Now is the Sim's clock: real time plus what Advance added.
func (e *Env) Now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return time.Now().Add(e.skew)
}

// Advance moves the Sim's clock. Tokens issued before then expire by the
// Sim's clock while x/oauth2 still trusts them: build new clients after.
func (e *Env) Advance(d time.Duration) {
	e.mu.Lock()
	e.skew += d
	e.mu.Unlock()
}

// TokenURL is the tenant's token endpoint.
func (e *Env) TokenURL() string { return e.Base + "/" + e.Tenant.ID.String() + "/oauth2/v2.0/token" }

// AppTokens is a client-credentials token source for the tenant.
func (e *Env) AppTokens(app graphsim.SeedApp) oauth2.TokenSource {
	cc := clientcredentials.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret, TokenURL: e.TokenURL(),
		Scopes: []string{"https://graph.microsoft.com/.default"}, AuthStyle: oauth2.AuthStyleInParams}
	return cc.TokenSource(e.t.Context())
}

// UserTokens signs user in once (password grant) and refreshes from there.
func (e *Env) UserTokens(app graphsim.SeedApp, user graphsim.SeedUser) oauth2.TokenSource {
	e.t.Helper()
	cfg := &oauth2.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret,
		Endpoint: oauth2.Endpoint{TokenURL: e.TokenURL(), AuthStyle: oauth2.AuthStyleInParams},
		Scopes:   []string{"https://graph.microsoft.com/.default", "offline_access"}}
	tok, err := cfg.PasswordCredentialsToken(e.t.Context(), user.UPN, user.Password)
	if err != nil {
		e.t.Fatalf("password grant for %s: %v", user.UPN, err)
	}
	return cfg.TokenSource(e.t.Context(), tok)
}

// UserIDs are the object ids of the tenant's people (not its monitors), in
// seed order.
func (e *Env) UserIDs() []string {
	ids := make([]string, len(e.Tenant.Users))
	for i, u := range e.Tenant.Users {
		ids[i] = u.ID.String()
	}
	return ids
}

// Recorder is a transport under the SDK's middleware that keeps what went
// on the wire: after compression, with the SDK's headers. Next carries the
// requests; nil means http.DefaultTransport.
type Recorder struct {
	Next http.RoundTripper
	mu   sync.Mutex
	reqs []Recorded
}

// Recorded is one request as it went out, its body too, and the status
// and headers of its answer (zero when there was none).
type Recorded struct {
	Method, URL string
	Header      http.Header
	Body        []byte
	Status      int
	RespHeader  http.Header
}

// RoundTrip sends req on Next and records it with its answer.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	next := r.Next
	if next == nil {
		next = http.DefaultTransport
	}
	rec := Recorded{Method: req.Method, URL: req.URL.String(), Header: req.Header.Clone()}
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		// The body read goes on in a clone: a RoundTripper must not change
		// the request it was given (net/http.RoundTripper).
		req = req.Clone(req.Context())
		rec.Body, req.Body = body, io.NopCloser(bytes.NewReader(body))
	}
	resp, err := next.RoundTrip(req)
	if resp != nil {
		rec.Status, rec.RespHeader = resp.StatusCode, resp.Header.Clone()
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
	return resp, err
}

// Requests are the recorded requests whose URL contains part; with part ""
// every request.
func (r *Recorder) Requests(part string) []Recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Recorded
	for _, q := range r.reqs {
		if strings.Contains(q.URL, part) {
			out = append(out, q)
		}
	}
	return out
}

// Reset forgets what was recorded so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.reqs = nil
	r.mu.Unlock()
}
