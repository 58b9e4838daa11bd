package portal

import (
	"context"
	"html"
	"io"
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

	"presencebridge/internal/graphsim"
	"presencebridge/internal/identity"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/tenantview"
	"presencebridge/internal/testkit"
	"presencebridge/web"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// fixture is the product's portal on a loopback port, graphsim on another,
// and two of our tenants connected to graphsim's first two Microsoft
// tenants, each with its administrator as portal admin.
type fixture struct {
	t       *testing.T
	sim     *graphsim.Sim
	seed    graphsim.Seed
	st      *store.Store
	base    string
	tenants [2]store.Tenant

	mu  sync.Mutex
	now time.Time
}

func (f *fixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }

func (f *fixture) advance(d time.Duration) { f.mu.Lock(); f.now = f.now.Add(d); f.mu.Unlock() }

// newFixture starts it all; extra, if set, adds routes to the portal's
// router (with the handler, for tests of its guards).
func newFixture(t *testing.T, extra func(*handler, chi.Router)) *fixture {
	t.Helper()
	f := &fixture{t: t, sim: graphsim.New(graphsim.Options{}), now: time.Now()}
	simSrv := httptest.NewServer(f.sim.Handler())
	t.Cleanup(simSrv.Close)
	f.sim.SetBaseURL(simSrv.URL)
	srv := httptest.NewUnstartedServer(nil)
	f.base = "http://" + srv.Listener.Addr().String()
	f.seed = graphsim.GenerateSeed(3, 3, 1, 31)
	f.seed.App.RedirectURIs = []string{f.base + "/portal/callback"}
	if err := f.sim.Apply(f.seed); err != nil {
		t.Fatal(err)
	}
	id, err := identity.New(identity.Options{LoginURL: simSrv.URL})
	if err != nil {
		t.Fatal(err)
	}
	pool := testkit.DB(t)
	ring := storetest.Ring(t)
	f.st = store.New(pool, ring)
	ctx := context.Background()
	for i := range f.tenants {
		ten := f.seed.Tenants[i]
		tn, err := f.st.CreateTenant(ctx, ten.Name, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.st.ConsentGranted(ctx, tn.ID, ten.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.AddPortalAdmin(ctx, store.PortalAdmin{TenantID: tn.ID, ObjectID: ten.Admin.ID, MSTenantID: ten.ID,
			UPN: ten.Admin.UPN, AddedBy: "test"}); err != nil {
			t.Fatal(err)
		}
		f.tenants[i] = tn
	}
	sessions := web.NewSessions(pool, web.SessionOptions{Ring: ring})
	h := newHandler(Deps{Identity: id, App: identity.App{ClientID: f.seed.App.ClientID, ClientSecret: f.seed.App.ClientSecret},
		BaseURL: f.base, Store: f.st, Views: tenantview.New(f.st), Sessions: sessions, LoginURL: simSrv.URL, Now: f.clock})
	srv.Config.Handler = web.New(web.Deps{Mount: func(r chi.Router) {
		r.Route("/portal", func(r chi.Router) {
			h.routes(r)
			if extra != nil {
				extra(h, r)
			}
		})
	}})
	srv.Start()
	t.Cleanup(srv.Close)
	return f
}

// browser is one browser's cookies, driving the pages by HTTP.
type browser struct {
	f    *fixture
	http *http.Client
	csrf string
}

type page struct {
	status   int
	location string
	body     string
}

var (
	csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	tagRE  = regexp.MustCompile(`<[^>]+>`)
)

func (f *fixture) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{f: f, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values) page {
	b.f.t.Helper()
	u := path
	if strings.HasPrefix(u, "/") {
		u = b.f.base + path
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.f.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(raw)}
	if m := csrfRE.FindStringSubmatch(p.body); m != nil {
		b.csrf = html.UnescapeString(m[1])
	}
	return p
}

// signIn signs who in from the portal's front door through graphsim's
// sign-in page, and returns the callback's answer.
func (b *browser) signIn(who graphsim.SeedUser) page {
	b.f.t.Helper()
	if p := b.do("GET", "/portal", nil); p.status != 200 || !strings.Contains(p.body, "Sign in with Microsoft") {
		b.f.t.Fatalf("front door: %d\n%s", p.status, p.body)
	}
	p := b.do("GET", "/portal/signin", nil)
	if p.status != http.StatusSeeOther || !strings.Contains(p.location, "/organizations/oauth2/v2.0/authorize") {
		b.f.t.Fatalf("sign-in start: %d %s", p.status, p.location)
	}
	q, err := graphsim.NewPerson().SignIn(context.Background(), p.location, who.UPN, who.Password)
	if err != nil {
		b.f.t.Fatalf("at Microsoft: %v", err)
	}
	return b.do("GET", "/portal/callback?"+q.Encode(), nil)
}

func wantPage(t *testing.T, p page, status int, texts ...string) {
	t.Helper()
	if p.status != status {
		t.Errorf("status %d, want %d", p.status, status)
	}
	for _, s := range texts {
		if !strings.Contains(html.UnescapeString(tagRE.ReplaceAllString(p.body, "")), s) {
			t.Errorf("page lacks %q:\n%s", s, p.body)
		}
	}
}

func TestAPortalAdminSignsInAndSeesTheTenantsHome(t *testing.T) {
	f := newFixture(t, nil)
	b := f.browser()
	p := b.signIn(f.seed.Tenants[0].Admin)
	if p.status != http.StatusSeeOther || p.location != "/portal" {
		t.Fatalf("callback: %d %s\n%s", p.status, p.location, p.body)
	}
	wantPage(t, b.do("GET", "/portal", nil), 200, f.tenants[0].Name, "Signed in as "+f.seed.Tenants[0].Admin.UPN, "Admin consent", "granted", "Open alerts")
	var actor string
	f.st.Pool().QueryRow(t.Context(), `SELECT actor FROM audit_log WHERE action = 'portal.signed_in' AND tenant_id = $1`, f.tenants[0].ID).Scan(&actor)
	if actor != "portal:"+f.seed.Tenants[0].Admin.ID.String() {
		t.Errorf("sign-in audited as %q", actor)
	}
}

func TestAnAccountOfAnotherMicrosoftTenantIsRefused(t *testing.T) {
	f := newFixture(t, nil)
	b := f.browser()
	wantPage(t, b.signIn(f.seed.Tenants[2].Admin), http.StatusForbidden, "not connected to Presence Bridge")
	if p := b.do("GET", "/portal", nil); strings.Contains(p.body, "Signed in as") {
		t.Error("a refused account got a portal session")
	}
}

func TestAnAccountOfTheRightTenantThatIsNotAPortalAdminIsRefused(t *testing.T) {
	f := newFixture(t, nil)
	b := f.browser()
	who := f.seed.Tenants[0].Users[0]
	wantPage(t, b.signIn(who), http.StatusForbidden, who.UPN+" is not an administrator", f.seed.Tenants[0].Admin.UPN)
	if p := b.do("GET", "/portal", nil); strings.Contains(p.body, "Signed in as") {
		t.Error("a refused account got a portal session")
	}
}

func TestASessionOfOneTenantNeverShowsAnothers(t *testing.T) {
	f := newFixture(t, nil)
	b := f.browser()
	b.signIn(f.seed.Tenants[0].Admin)
	other := f.tenants[1].ID.String()
	for _, path := range []string{"/portal/" + other, "/portal/tenants/" + other, "/portal?tenant=" + other} {
		p := b.do("GET", path, nil)
		if strings.Contains(p.body, f.tenants[1].Name) {
			t.Errorf("GET %s shows tenant B", path)
		}
		if !strings.Contains(path, "?") && p.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, p.status)
		}
	}
}

func TestSignOutWithoutTheCSRFTokenIsRefused(t *testing.T) {
	f := newFixture(t, nil)
	b := f.browser()
	b.signIn(f.seed.Tenants[0].Admin)
	b.do("GET", "/portal", nil)
	wantPage(t, b.do("POST", "/portal/signout", url.Values{"csrf": {"forged"}}), http.StatusForbidden, "This form has expired")
	wantPage(t, b.do("GET", "/portal", nil), 200, "Signed in as")
	wantPage(t, b.do("POST", "/portal/signout", url.Values{"csrf": {b.csrf}}), 200, "You are signed out.")
	if p := b.do("GET", "/portal", nil); strings.Contains(p.body, "Signed in as") {
		t.Error("still signed in after signing out")
	}
}

func TestAStaleSignInIsSentToSignInAgainBeforeASecret(t *testing.T) {
	f := newFixture(t, func(h *handler, r chi.Router) {
		r.With(h.requireAdmin).Get("/secret", func(w http.ResponseWriter, r *http.Request) {
			if h.requireFresh(w, r) {
				io.WriteString(w, "the secret")
			}
		})
	})
	b := f.browser()
	b.signIn(f.seed.Tenants[0].Admin)
	wantPage(t, b.do("GET", "/portal/secret", nil), 200, "the secret")
	f.advance(FreshFor + time.Minute)
	p := b.do("GET", "/portal/secret", nil)
	if p.status != http.StatusSeeOther || p.location != "/portal/signin?fresh=1&return=%2Fportal%2Fsecret" {
		t.Fatalf("a stale sign-in: %d %q", p.status, p.location)
	}
	p = b.do("GET", p.location, nil)
	u, _ := url.Parse(p.location)
	if q := u.Query(); q.Get("prompt") != "login" || q.Get("max_age") != "600" || q.Get("login_hint") != f.seed.Tenants[0].Admin.UPN {
		t.Errorf("re-authentication URL = %s", p.location)
	}
	q, err := graphsim.NewPerson().SignIn(t.Context(), p.location, f.seed.Tenants[0].Admin.UPN, f.seed.Tenants[0].Admin.Password)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.now = time.Now() // the identity platform's clock: the new sign-in is fresh
	f.mu.Unlock()
	if p := b.do("GET", "/portal/callback?"+q.Encode(), nil); p.location != "/portal/secret" {
		t.Fatalf("after signing in again: %d %q", p.status, p.location)
	}
	wantPage(t, b.do("GET", "/portal/secret", nil), 200, "the secret")
}
