package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"
	"github.com/pquerna/otp/totp"

	"presencebridge/internal/staff"
	"presencebridge/web/console"
	"presencebridge/web/tenantui"
)

// consoleChangesNothing are the console's state-changing routes that
// change nothing lasting, so have nothing to audit, each with why.
var consoleChangesNothing = map[string]string{
	"POST /console/account/totp/new": "offers a new TOTP secret, kept in the session until a code proves it (POST /console/account/totp, audited)",
}

// changingRoutes are a router's routes by method other than GET and HEAD.
func changingRoutes(t *testing.T, mount func(chi.Router)) []string {
	t.Helper()
	r := chi.NewRouter()
	mount(r)
	var out []string
	err := chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if method != http.MethodGet && method != http.MethodHead {
			out = append(out, method+" "+route)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Every route of the console that changes state, enumerated from its
// router so that a new one fails this test until it is walked here, is
// performed by a signed-in staff member and lands in the audit log as
// that member (staff:<email>), with the tenant where it acts on one. The
// tenant pages under /console/tenants/{tenantID}/ are web/tenantui's,
// whose every change TestEveryPortalActionIsAuditedWithTheSignedInAdminAndItsTenant
// walks with the actor the page's Viewer names — here the staff member,
// as one of them shows (users/add).
func TestEveryConsoleActionIsAuditedAsTheStaffMember(t *testing.T) {
	now := time.Now() // the staff service's clock, which TOTP codes follow
	s := newSite(t, console.Limits{}, staff.Options{Now: func() time.Time { return now }})
	const actor = "staff:boss@vendor.example"
	s.add("boss@vendor.example", staff.Admin)
	b := s.browser()
	tenant := "/console/tenants/" + s.Tenant.String()
	var secret string
	var tenantRow string // the tenant of the invitation made
	ok := func(p page) {
		t.Helper()
		if p.Status >= 400 {
			t.Fatalf("%d\n%s", p.Status, p.Text())
		}
	}
	code := func() string {
		t.Helper()
		c, err := totp.GenerateCode(secret, now)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	type step struct {
		route, audit string // the route, and the action it must audit
		do           func()
	}
	steps := []step{
		{"POST /console/signin", "staff.signed_in", func() { b.signIn("boss@vendor.example") }},
		{"POST /console/account/totp", "staff.totp_enrolled", func() {
			b.Get("/console/account")
			ok(b.Post("/console/account/totp/new", url.Values{}))
			secret = between(b.Get("/console/account").Body, `id="totp-secret">`, "<")
			ok(b.Post("/console/account/totp", url.Values{"code": {code()}}))
		}},
		{"POST /console/signout", "staff.signed_out", func() { ok(b.Post("/console/signout", url.Values{})) }},
		{"POST /console/signin/code", "staff.signed_in", func() {
			b.Get("/console/signin")
			ok(b.Post("/console/signin", url.Values{"email": {"boss@vendor.example"}, "password": {password}}))
			now = now.Add(30 * time.Second) // the enrolling code is spent
			b.Get("/console/signin/code")
			ok(b.Post("/console/signin/code", url.Values{"code": {code()}}))
		}},
		{"POST /console/invitations/", "invite.created", func() {
			b.Get("/console/invitations/")
			ok(b.Post("/console/invitations/", url.Values{"name": {"Northwind Traders"}, "ttl": {"24h"}}))
		}},
		{"POST /console/invitations/{inviteID}/revoke", "invite.revoked", func() {
			p := b.Get("/console/invitations/")
			m := regexp.MustCompile(`action="(/console/invitations/[^/]+/revoke)"`).FindStringSubmatch(p.Body)
			t2 := regexp.MustCompile(`name="tenant" value="([^"]+)"`).FindStringSubmatch(p.Body)
			if m == nil || t2 == nil {
				t.Fatalf("no Withdraw or Invite again button:\n%s", p.Body)
			}
			tenantRow = t2[1]
			ok(b.Post(m[1], url.Values{}))
		}},
		{"POST /console/invitations/reinvite", "invite.created", func() {
			b.Get("/console/invitations/?all=1")
			ok(b.Post("/console/invitations/reinvite", url.Values{"tenant": {tenantRow}}))
		}},
		{"POST /console/staff/add", "staff.added", func() {
			b.Get("/console/staff")
			ok(b.Post("/console/staff/add", url.Values{"email": {"ops@vendor.example"}, "role": {"viewer"}}))
		}},
		{"POST /console/staff/{action}", "staff.role_changed", func() {
			b.Get("/console/staff")
			ok(b.Post("/console/staff/role", url.Values{"email": {"ops@vendor.example"}, "role": {"support"}}))
		}},
		{"POST /console/tenants/{tenantID}/support/password-signin", "tenant.password_signin", func() {
			b.Get(tenant + "/support/")
			ok(b.Post(tenant+"/support/password-signin", url.Values{"allow": {"yes"}}))
		}},
		{"POST /console/tenants/{tenantID}/support/suspend", "tenant.suspended", func() {
			ok(b.Post(tenant+"/support/suspend", url.Values{"reason": {"walked"}, "confirm": {"yes"}}))
		}},
		{"POST /console/tenants/{tenantID}/support/resume", "tenant.resumed", func() {
			ok(b.Post(tenant+"/support/resume", url.Values{"reason": {"walked"}, "confirm": {"yes"}}))
		}},
		{"POST /console/tenants/{tenantID}/support/delete", "tenant.deleted", func() {
			ok(b.Post(tenant+"/support/delete", url.Values{"reason": {"walked"}, "confirm": {"yes"}}))
		}},
	}

	// Every changing route is walked below, a tenant page, or changes nothing.
	all := changingRoutes(t, func(r chi.Router) {
		r.Route(console.Prefix, console.Routes(console.Deps{Store: s.Store, Staff: s.Staff, Sessions: console.NewSessions(s.Store.Pool(), nil, false, nil)}))
	})
	pages := changingRoutes(t, func(r chi.Router) {
		r.Route("/console/tenants/{tenantID}", tenantui.Routes(tenantui.Deps{Store: s.Store}))
	})
	for _, route := range all {
		walked := slices.ContainsFunc(steps, func(st step) bool { return st.route == route })
		if !walked && !slices.Contains(pages, route) && consoleChangesNothing[route] == "" {
			t.Errorf("%s is neither walked here, a tenant page, nor listed as changing nothing", route)
		}
	}

	var last int64 // the setup's entries are not the walk's
	if err := s.Store.Pool().QueryRow(t.Context(), `SELECT coalesce(max(id), 0) FROM audit_log`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	type entry struct {
		ID                    int64
		Actor, Action, Tenant string
	}
	for _, st := range steps {
		st.do()
		rows, err := s.Store.Pool().Query(t.Context(), `SELECT id, actor, action, coalesce(tenant_id::text, '') FROM audit_log WHERE id > $1 ORDER BY id`, last)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[entry])
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range got {
			last = e.ID
			actions = append(actions, e.Action)
			if e.Actor != actor || strings.HasPrefix(e.Action, "tenant.") && e.Tenant != s.Tenant.String() {
				t.Errorf("%s: an entry %s by %s of tenant %q, want by %s (of the tenant acted on)", st.route, e.Action, e.Actor, e.Tenant, actor)
			}
		}
		if !slices.Contains(actions, st.audit) {
			t.Errorf("%s: audited %v, want %s", st.route, actions, st.audit)
		}
	}
}
