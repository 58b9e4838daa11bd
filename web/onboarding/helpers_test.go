package onboarding

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/identity"
	"presencebridge/internal/links"
	"presencebridge/internal/onboarding"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
	"presencebridge/web"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// fixture is the product (the web shell with the onboarding pages) on a
// loopback port, graphsim on another, and a fresh database.
type fixture struct {
	t    *testing.T
	sim  *graphsim.Sim
	seed graphsim.Seed
	pool *pgxpool.Pool
	st   *store.Store
	svc  *onboarding.Service
	base string
	logs *testkit.Logs

	mu  sync.Mutex
	now time.Time
}

// clock is the links' clock, which tests move to expire Copy URLs.
func (f *fixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }

func (f *fixture) advance(d time.Duration) { f.mu.Lock(); f.now = f.now.Add(d); f.mu.Unlock() }

type fixtureOptions struct{ production bool }

func newFixture(t *testing.T, opts ...fixtureOptions) *fixture {
	t.Helper()
	var o fixtureOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	f := &fixture{t: t, sim: graphsim.New(graphsim.Options{}), now: time.Now(), logs: &testkit.Logs{}}
	simSrv := httptest.NewServer(f.sim.Handler())
	t.Cleanup(simSrv.Close)
	f.sim.SetBaseURL(simSrv.URL)

	srv := httptest.NewUnstartedServer(nil)
	f.base = "http://" + srv.Listener.Addr().String()
	f.seed = graphsim.GenerateSeed(2, 3, 3, 21)
	f.seed.App.RedirectURIs = []string{f.base + "/onboarding/consent/callback", f.base + "/onboarding/monitors/callback",
		f.base + "/onboarding/signin/callback"}
	f.seed.Tenants[0].Consented = false
	if err := f.sim.Apply(f.seed); err != nil {
		t.Fatal(err)
	}
	id, err := identity.New(identity.Options{LoginURL: simSrv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ring := storetest.Ring(t)
	f.pool = testkit.DB(t)
	f.st = store.New(f.pool, ring)
	f.svc = onboarding.New(f.st, id, links.New(ring, f.clock), onboarding.Config{
		App:     identity.App{ClientID: f.seed.App.ClientID, ClientSecret: f.seed.App.ClientSecret},
		BaseURL: f.base, RequiredRoles: graphsim.DefaultApplication, AllowLoopbackWebhooks: true,
	})
	logger := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sessions := web.NewSessions(f.pool, web.SessionOptions{Production: o.production, Logger: logger, Ring: ring})
	srv.Config.Handler = web.New(web.Deps{Logger: logger, Production: o.production, Mount: func(r chi.Router) {
		r.Route("/onboarding", Routes(Deps{Service: f.svc, Sessions: sessions, LoginURL: simSrv.URL, Logger: logger, Now: f.clock,
			OwnApp: func(ctx context.Context, id uuid.UUID) (store.TenantApp, error) {
				return f.st.GetTenantApp(ctx, id)
			}}))
	}})
	srv.Start()
	t.Cleanup(srv.Close)
	return f
}

func (f *fixture) ten() graphsim.SeedTenant { return f.seed.Tenants[0] }

// client is one browser's worth of cookies, driving the pages by HTTP.
type client struct {
	t    *testing.T
	f    *fixture
	http *http.Client
	csrf string // from the last page that had a form
	// lastInvite is the link invited() opened last.
	lastInvite string
}

func (f *fixture) newClient() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: f.t, f: f, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	status   int
	location string
	body     string
	header   http.Header
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *client) do(req *http.Request) page {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(b), header: resp.Header}
	// The Content-Security-Policy blocks inline script and style: a page
	// that used them would be broken in browsers.
	if strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
		lower := strings.ToLower(p.body)
		for _, banned := range []string{"<style", " style=", " onclick=", " onload=", "javascript:", "<script>"} {
			if strings.Contains(lower, banned) {
				c.t.Errorf("%s %s: the page has %q", req.Method, req.URL.Path, banned)
			}
		}
		if p.header.Get("Cache-Control") != "no-store" {
			c.t.Errorf("%s %s: Cache-Control %q, want no-store", req.Method, req.URL.Path, p.header.Get("Cache-Control"))
		}
	}
	if m := csrfRE.FindStringSubmatch(p.body); m != nil {
		c.csrf = html.UnescapeString(m[1])
	}
	return p
}

// get fetches a path of the product or an absolute URL.
func (c *client) get(u string) page {
	c.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = c.f.base + u
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return c.do(req)
}

// post sends a form with the session's CSRF token (unless the form sets
// csrf itself) and the given extra header pairs.
func (c *client) post(path string, form url.Values, header ...string) page {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, set := form["csrf"]; !set {
		form.Set("csrf", c.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, c.f.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return c.do(req)
}

// postMultipart sends the form as multipart/form-data with a CSV file in
// usersFile, as the page's form does.
func (c *client) postMultipart(path string, form url.Values, filename, content string) page {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	form.Set("csrf", c.csrf)
	for k, vs := range form {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	fw, _ := mw.CreateFormFile("usersFile", filename)
	io.WriteString(fw, content)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.f.base+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// follow GETs a redirect's target.
func (c *client) follow(p page) page {
	c.t.Helper()
	if p.status != http.StatusSeeOther && p.status != http.StatusFound {
		c.t.Fatalf("want a redirect, got %d:\n%s", p.status, text(p.body))
	}
	return c.get(p.location)
}

var (
	tagRE   = regexp.MustCompile(`(?s)<[^>]+>`)
	spaceRE = regexp.MustCompile(`\s+`)
)

// text is a page's visible text on one line, for messages and failures.
func text(body string) string {
	return strings.TrimSpace(spaceRE.ReplaceAllString(html.UnescapeString(tagRE.ReplaceAllString(body, " ")), " "))
}

func wantText(t *testing.T, p page, status int, msgs ...string) {
	t.Helper()
	if p.status != status {
		t.Errorf("status %d, want %d", p.status, status)
	}
	got := text(p.body)
	for _, m := range msgs {
		if !strings.Contains(got, m) {
			t.Errorf("page lacks %q:\n%s", m, got)
		}
	}
}

// invited opens a new invitation in c and returns the tenant.
func (c *client) invited() uuid.UUID {
	c.t.Helper()
	t, link, err := c.f.svc.CreateInvite(context.Background(), "Contoso", "staff:ops@vendor.example", 0)
	if err != nil {
		c.t.Fatal(err)
	}
	c.lastInvite = link
	c.signIn(link, c.f.ten().Admin)
	p := c.get("/onboarding")
	wantText(c.t, p, http.StatusOK, "Connect Contoso to Presence Bridge")
	return t.ID
}

// signInPage opens an invitation link, which asks for a Microsoft sign-in,
// and has who sign in on graphsim's page; it returns the callback's answer.
func (c *client) signInPage(link string, who graphsim.SeedUser) page {
	c.t.Helper()
	wantText(c.t, c.get(link), http.StatusOK, "Sign in with Microsoft")
	p := c.post("/onboarding/signin", nil)
	if p.status != http.StatusSeeOther || !strings.Contains(p.location, "/organizations/oauth2/v2.0/authorize") {
		c.t.Fatalf("sign-in start: %d %q\n%s", p.status, p.location, text(p.body))
	}
	q, err := graphsim.NewPerson().SignIn(context.Background(), p.location, who.UPN, who.Password)
	if err != nil {
		c.t.Fatalf("at Microsoft: %v", err)
	}
	return c.get("/onboarding/signin/callback?" + q.Encode())
}

// signIn opens an invitation link and signs who in, who must be let in.
func (c *client) signIn(link string, who graphsim.SeedUser) {
	c.t.Helper()
	if p := c.signInPage(link, who); p.status != http.StatusSeeOther || p.location != "/onboarding" {
		c.t.Fatalf("invitation sign-in as %s: %d %s\n%s", who.UPN, p.status, p.location, text(p.body))
	}
}

// formValues fills the form for the first seeded tenant with its users.
func (f *fixture) formValues() url.Values {
	var users []string
	for _, u := range f.ten().Users {
		users = append(users, u.UPN)
	}
	return url.Values{"company": {"Contoso Ltd"}, "microsoftTenant": {f.ten().Domain}, "adminEmail": {"it@contoso.example"},
		"telephonyAccount": {"acct-42"}, "usersSource": {"list"}, "users": {strings.Join(users, "\n")},
		"eventTarget": {"webhook"}, "webhookUrl": {"https://events.example.com/presence"}}
}

func (c *client) formSaved() {
	c.t.Helper()
	p := c.follow(c.post("/onboarding/form", c.f.formValues()))
	wantText(c.t, p, http.StatusOK, "Saved.")
}

// consentCallback starts consent and has the person act on Microsoft's
// page; it returns the callback's query, not yet sent.
func (c *client) consentCallback(act func(ctx context.Context, p *graphsim.Person, authURL string) (url.Values, error)) url.Values {
	c.t.Helper()
	p := c.post("/onboarding/consent", nil)
	if p.status != http.StatusSeeOther || !strings.Contains(p.location, "/adminconsent") {
		c.t.Fatalf("consent start: %d %q\n%s", p.status, p.location, text(p.body))
	}
	q, err := act(context.Background(), graphsim.NewPerson(), p.location)
	if err != nil {
		c.t.Fatalf("at Microsoft: %v", err)
	}
	return q
}

func (c *client) asAdmin() func(context.Context, *graphsim.Person, string) (url.Values, error) {
	return func(ctx context.Context, p *graphsim.Person, u string) (url.Values, error) {
		return p.SignIn(ctx, u, c.f.ten().Admin.UPN, c.f.ten().Admin.Password)
	}
}

func (c *client) consented() {
	c.t.Helper()
	q := c.consentCallback(c.asAdmin())
	p := c.follow(c.get("/onboarding/consent/callback?" + q.Encode()))
	wantText(c.t, p, http.StatusOK, "Presence Bridge is authorized.")
}

// addMonitor adds the seeded monitor i and returns its id.
func (c *client) addMonitor(i int) uuid.UUID {
	c.t.Helper()
	upn := c.f.ten().Monitors[i].UPN
	c.follow(c.post("/onboarding/monitors", url.Values{"upn": {upn}}))
	var id uuid.UUID
	err := c.f.pool.QueryRow(context.Background(), `SELECT id FROM monitors WHERE upn = $1`, upn).Scan(&id)
	if err != nil {
		c.t.Fatalf("monitor %s not added: %v", upn, err)
	}
	return id
}

// monitorCallback presses Authorize now for monitor id and signs in at
// Microsoft as who; it returns the callback's query, not yet sent.
func (c *client) monitorCallback(id uuid.UUID, who graphsim.SeedUser) url.Values {
	c.t.Helper()
	p := c.post("/onboarding/monitors/"+id.String()+"/authorize", nil)
	if p.status != http.StatusSeeOther || !strings.Contains(p.location, "/oauth2/v2.0/authorize") {
		c.t.Fatalf("authorize now: %d %q\n%s", p.status, p.location, text(p.body))
	}
	q, err := graphsim.NewPerson().SignIn(context.Background(), p.location, who.UPN, who.Password)
	if err != nil {
		c.t.Fatalf("at Microsoft: %v", err)
	}
	return q
}

// authorized signs in the seeded monitor i with "Authorize now".
func (c *client) authorized(i int) uuid.UUID {
	c.t.Helper()
	id := c.addMonitor(i)
	q := c.monitorCallback(id, c.f.ten().Monitors[i])
	wantText(c.t, c.follow(c.get("/onboarding/monitors/callback?"+q.Encode())), http.StatusOK, "The monitor is authorized.")
	return id
}

// completed takes a new invitation in c through every step to the
// summary page, with the form's webhook, and returns the tenant.
func (c *client) completed() uuid.UUID {
	c.t.Helper()
	tenantID := c.invited()
	c.formSaved()
	c.consented()
	c.authorized(0)
	c.authorized(1)
	wantText(c.t, c.follow(c.post("/onboarding/complete", nil)), http.StatusOK, "Contoso Ltd is connected")
	return tenantID
}

// snapshot is the state of everything onboarding may change, to assert
// that a refused request changed none of it.
func (f *fixture) snapshot() string {
	f.t.Helper()
	ctx := context.Background()
	var b strings.Builder
	rows, err := f.pool.Query(ctx, `SELECT t.name, coalesce(t.ms_tenant_id::text, '-'), coalesce(t.ms_domain, '-'), t.status,
		o.consent_status, coalesce(o.consent_error, '-'), coalesce(o.form::text, '-'), o.completed_at IS NOT NULL
		FROM tenants t JOIN onboarding o ON o.tenant_id = t.id ORDER BY t.id`)
	if err != nil {
		f.t.Fatal(err)
	}
	for rows.Next() {
		vals, _ := rows.Values()
		fmt.Fprintln(&b, vals...)
	}
	rows.Close()
	rows, err = f.pool.Query(ctx, `SELECT upn, status, coalesce(auth_method, '-'), link_generation,
		refresh_token_secret_id IS NOT NULL FROM monitors ORDER BY upn`)
	if err != nil {
		f.t.Fatal(err)
	}
	for rows.Next() {
		vals, _ := rows.Values()
		fmt.Fprintln(&b, vals...)
	}
	rows.Close()
	var secrets, audit, users int
	f.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM secrets), (SELECT count(*) FROM audit_log), (SELECT count(*) FROM directory_users)`).
		Scan(&secrets, &audit, &users)
	fmt.Fprintf(&b, "secrets %d audit %d users %d\n", secrets, audit, users)
	return b.String()
}

func (f *fixture) requireUnchanged(before string) {
	f.t.Helper()
	if after := f.snapshot(); after != before {
		f.t.Errorf("the database changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
