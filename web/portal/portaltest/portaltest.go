// Package portaltest runs the tenant admins' portal for tests of the pages
// it serves (web/tenantui): the portal on a loopback port, graphsim on
// another as the identity platform and Microsoft Graph, a fresh database,
// and one of our tenants connected to graphsim's first Microsoft tenant
// with its administrator as portal admin; a Browser signs in through
// graphsim's sign-in page as a person would.
package portaltest

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
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"presencebridge/internal/deliver"
	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/graphsim"
	"presencebridge/internal/identity"
	"presencebridge/internal/links"
	"presencebridge/internal/onboarding"
	"presencebridge/internal/portaladmin"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/tenantview"
	"presencebridge/internal/testkit"
	"presencebridge/internal/tokens"
	"presencebridge/internal/verify"
	"presencebridge/web"
	"presencebridge/web/graphhook"
	webonboarding "presencebridge/web/onboarding"
	"presencebridge/web/portal"
	"presencebridge/web/tenantui"
)

// Portal is a running portal.
type Portal struct {
	T      testing.TB
	Sim    *graphsim.Sim
	SimURL string
	Seed   graphsim.Seed
	Store  *store.Store
	Base   string // the product's URL: the portal is at Base+"/portal"
	Tenant store.Tenant
	// Onboarding is the onboarding service the tenant pages use for the
	// tenant's own app registration (tenantui.Deps.Onboarding).
	Onboarding *onboarding.Service
	// Routes are the product's routes as served, the portal's under
	// /portal, for tests that enumerate them (chi.Walk).
	Routes chi.Routes
	// Pages are the services the portal's tenant pages were given
	// (Onboarding, Verify over graphsim, LivePresence, …), for another
	// surface of the same pages (the console) to serve them alike.
	Pages tenantui.Deps
}

// New starts it all.
func New(t testing.TB) *Portal {
	t.Helper()
	p := &Portal{T: t, Sim: graphsim.New(graphsim.Options{})}
	simSrv := httptest.NewServer(p.Sim.Handler())
	t.Cleanup(simSrv.Close)
	p.SimURL = simSrv.URL
	p.Sim.SetBaseURL(simSrv.URL)
	srv := httptest.NewUnstartedServer(nil)
	p.Base = "http://" + srv.Listener.Addr().String()
	p.Seed = graphsim.GenerateSeed(2, 6, 1, 31)
	// Monitor sign-ins started on the portal come back through onboarding's callback.
	p.Seed.App.RedirectURIs = []string{p.Base + "/portal/callback", p.Base + "/onboarding/monitors/callback"}
	if err := p.Sim.Apply(p.Seed); err != nil {
		t.Fatal(err)
	}
	id, err := identity.New(identity.Options{LoginURL: simSrv.URL})
	if err != nil {
		t.Fatal(err)
	}
	pool := testkit.DB(t)
	ring := storetest.Ring(t)
	p.Store = store.New(pool, ring)
	app := identity.App{ClientID: p.Seed.App.ClientID, ClientSecret: p.Seed.App.ClientSecret}
	p.Onboarding = onboarding.New(p.Store, id, links.New(ring, nil), onboarding.Config{App: app, BaseURL: p.Base})
	ctx := context.Background()
	ten := p.Seed.Tenants[0]
	if p.Tenant, err = p.Store.CreateTenant(ctx, ten.Name, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := p.Store.ConsentGranted(ctx, p.Tenant.ID, ten.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Store.AddPortalAdmin(ctx, store.PortalAdmin{TenantID: p.Tenant.ID, ObjectID: ten.Admin.ID, MSTenantID: ten.ID,
		UPN: ten.Admin.UPN, AddedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	sessions := web.NewSessions(pool, web.SessionOptions{Ring: ring})
	monitors := tenantui.MonitorDeps{PerMonitor: graphapi.MaxPresenceIDs,
		SignIn: webonboarding.NewMonitorSignIns(webonboarding.Deps{Service: p.Onboarding, Sessions: sessions})}
	clients := directory(p, id, simSrv.URL)
	must, optional := p.Onboarding.ConsentRoles()
	verifier := verify.New(verify.Deps{Store: p.Store, Access: clients, Tokens: tokens.New(p.Store, id, p.Onboarding.Credentials, nil),
		Tester: deliver.New(p.Store, deliver.Options{AllowPrivate: true}), RequiredRoles: must, OptionalRoles: optional,
		NotifyURL: p.Base + "/graph/notifications"})
	p.Pages = tenantui.Deps{Onboarding: p.Onboarding, Monitors: monitors, AllowLoopbackWebhooks: true,
		Admins: portaladmin.New(p.Store, clients.Directory), Verify: verifier, LivePresence: clients.LivePresence}
	routes := portal.Routes(portal.Deps{Identity: id, App: identity.App{ClientID: p.Seed.App.ClientID, ClientSecret: p.Seed.App.ClientSecret},
		BaseURL: p.Base, Store: p.Store, Views: tenantview.New(p.Store), Sessions: sessions, LoginURL: simSrv.URL, Pages: p.Pages})
	// Onboarding beside it, as in production: Copy URLs and monitor sign-ins go through it;
	// and Graph's notification URL, which Verify configuration checks.
	onboardingRoutes := webonboarding.Routes(webonboarding.Deps{Service: p.Onboarding, Sessions: sessions, LoginURL: simSrv.URL})
	srv.Config.Handler = web.New(web.Deps{Mount: func(r chi.Router) {
		p.Routes = r
		r.Route("/portal", routes)
		r.Route("/onboarding", onboardingRoutes)
		r.Route("/graph", graphhook.New(graphhook.Deps{Subs: p.Store}).Routes)
	}})
	srv.Start()
	t.Cleanup(srv.Close)
	return p
}

// Browser is one browser's cookies, driving the pages by HTTP. CSRF is the
// form token of the last page read.
type Browser struct {
	p    *Portal
	http *http.Client
	CSRF string
}

// Page is an answer.
type Page struct {
	Status   int
	Location string
	Body     string
}

var (
	csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	tagRE  = regexp.MustCompile(`<[^>]+>`)
)

// Text is the page's text without tags, entities decoded.
func (p Page) Text() string { return html.UnescapeString(tagRE.ReplaceAllString(p.Body, "")) }

// Browser returns a browser with no cookies; redirects are not followed.
func (p *Portal) Browser() *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{p: p, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Do sends a request to path (under Base when it starts with "/") with
// body of contentType (none when body is nil).
func (b *Browser) Do(method, path, contentType string, body io.Reader) Page {
	b.p.T.Helper()
	u := path
	if strings.HasPrefix(u, "/") {
		u = b.p.Base + path
	}
	req, _ := http.NewRequest(method, u, body)
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.p.T.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	pg := Page{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: string(raw)}
	if m := csrfRE.FindStringSubmatch(pg.Body); m != nil {
		b.CSRF = html.UnescapeString(m[1])
	}
	return pg
}

// Get reads path.
func (b *Browser) Get(path string) Page { b.p.T.Helper(); return b.Do("GET", path, "", nil) }

// Post sends form to path, with the last page's CSRF token unless form
// has one.
func (b *Browser) Post(path string, form url.Values) Page {
	b.p.T.Helper()
	if !form.Has("csrf") {
		form.Set("csrf", b.CSRF)
	}
	return b.Do("POST", path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
}

// SignIn signs the tenant's administrator in through graphsim's sign-in
// page; the test fails unless they land on the portal's Home.
func (b *Browser) SignIn() {
	b.p.T.Helper()
	who := b.p.Seed.Tenants[0].Admin
	pg := b.Get("/portal/signin")
	if pg.Status != http.StatusSeeOther {
		b.p.T.Fatalf("sign-in start: %d %s", pg.Status, pg.Location)
	}
	q, err := graphsim.NewPerson().SignIn(context.Background(), pg.Location, who.UPN, who.Password)
	if err != nil {
		b.p.T.Fatalf("at Microsoft: %v", err)
	}
	if pg := b.Get("/portal/callback?" + q.Encode()); pg.Status != http.StatusSeeOther || pg.Location != "/portal" {
		b.p.T.Fatalf("callback: %d %s\n%s", pg.Status, pg.Location, pg.Body)
	}
}
