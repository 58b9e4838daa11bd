package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/keycache"
	"presencebridge/internal/links"
	"presencebridge/internal/onboarding"
	"presencebridge/internal/portaladmin"
	"presencebridge/internal/staff"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/tenantview"
	"presencebridge/internal/testkit"
	"presencebridge/web"
	"presencebridge/web/api"
	"presencebridge/web/console"
	"presencebridge/web/tenantui"
)

func TestMain(m *testing.M) { testkit.Main(m) }

const password = "correct horse battery staple"

// site is the console on a local port beside the tenant API, as the web
// role serves them, over a fresh database with one tenant, Contoso.
type site struct {
	t      testing.TB
	Store  *store.Store
	Staff  *staff.Service
	Tenant uuid.UUID
	URL    string
	// Onboarding makes invitations (links starting with productURL).
	Onboarding *onboarding.Service
}

// productURL is where the site's invitation links lead.
const productURL = "http://product.example"

// opts, when given, are the staff service's.
func newSite(t testing.TB, limits console.Limits, opts ...staff.Options) *site {
	t.Helper()
	return newSiteWith(t, limits, nil, opts...)
}

// newSiteWith is newSite whose console has what more adds to its deps,
// given the site's URL (single sign-on's redirect URI).
func newSiteWith(t testing.TB, limits console.Limits, more func(d *console.Deps, url string), opts ...staff.Options) *site {
	t.Helper()
	st, tenant := storetest.New(t)
	s := &site{t: t, Store: st, Staff: staff.New(st, append(opts, staff.Options{})[0]), Tenant: tenant}
	keys := keycache.New(st, keycache.Options{})
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go keys.Run(ctx)
	ring := storetest.Ring(t)
	s.Onboarding = onboarding.New(st, nil, links.New(ring, nil), onboarding.Config{BaseURL: productURL})
	d := console.Deps{Store: st, Staff: s.Staff, Views: tenantview.New(st),
		Sessions: console.NewSessions(st.Pool(), ring, false, nil), Limits: limits,
		Pages: tenantui.Deps{Monitors: tenantui.MonitorDeps{PerMonitor: graphapi.MaxPresenceIDs}, Admins: portaladmin.New(st, nil),
			Onboarding: s.Onboarding}}
	srv := httptest.NewUnstartedServer(nil)
	s.URL = "http://" + srv.Listener.Addr().String()
	if more != nil {
		more(&d, s.URL)
	}
	routes := console.Routes(d)
	srv.Config.Handler = web.New(web.Deps{Mount: func(r chi.Router) {
		r.Route(console.Prefix, routes)
		r.Route("/api/v1", api.Routes(api.Deps{Store: st, Keys: keys}))
	}})
	srv.Start()
	t.Cleanup(srv.Close)
	return s
}

// add makes a staff account with password.
func (s *site) add(email string, role staff.Role) store.Staff {
	s.t.Helper()
	who, err := s.Staff.Add(s.t.Context(), email, "", role, password, "staff:test")
	if err != nil {
		s.t.Fatal(err)
	}
	return who
}

// audited counts the audit entries of action by actor.
func (s *site) audited(actor, action string) int {
	s.t.Helper()
	var n int
	if err := s.Store.Pool().QueryRow(s.t.Context(), `SELECT count(*) FROM audit_log WHERE actor = $1 AND action = $2`, actor, action).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// browser is one browser's cookies, driving the console by HTTP.
type browser struct {
	*testkit.Forms
	s *site
}

type page = testkit.Page

func (s *site) browser() *browser { return &browser{Forms: testkit.NewForms(s.t, s.URL), s: s} }

// signIn signs email in with the password and fails the test unless it
// lands on the tenants list.
func (b *browser) signIn(email string) {
	b.s.t.Helper()
	b.Get("/console/signin")
	p := b.Post("/console/signin", url.Values{"email": {email}, "password": {password}})
	if p.Status != http.StatusSeeOther || p.Location != "/console/" {
		b.s.t.Fatalf("sign in %s: %d %s\n%s", email, p.Status, p.Location, p.Text())
	}
}

// cookie is the browser's console session cookie ("" without one).
func (b *browser) cookie() string { return b.Cookie(console.SessionCookie) }
