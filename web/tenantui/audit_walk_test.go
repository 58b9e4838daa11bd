package tenantui_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/testkit"
	"presencebridge/web/portal/portaltest"
)

// changesNothing are the portal's state-changing routes by method that
// change nothing, so have nothing to audit, each with why.
var changesNothing = map[string]string{
	"POST /portal/integration/rules/preview": "shows what the rules in the form would make of common presences; saves nothing (a POST for the form's size)",
}

// actsOnGET are the portal's GET routes that act, and so are walked with
// the rest.
var actsOnGET = []string{
	"GET /portal/callback", // signs the admin in
}

// walkStep performs one route with valid input as the signed-in admin,
// after setup (whose own audit entries do not count); the route must then
// have written an entry of action audit, and only entries naming the admin
// and the tenant.
type walkStep struct {
	route, audit string
	setup, do    func()
}

// Every route of the portal and the tenant pages that changes state,
// enumerated from the router so that a new one fails this test until it is
// walked here (or listed in changesNothing with its reason), is performed
// by a signed-in portal admin, and lands in the audit log with that admin
// and the tenant.
func TestEveryPortalActionIsAuditedWithTheSignedInAdminAndItsTenant(t *testing.T) {
	p := portaltest.New(t)
	ctx, ten := t.Context(), p.Seed.Tenants[0]
	activate(t, p)
	resolvedRoster(t, p, 2)
	b := p.Browser()
	ok := func(pg portaltest.Page) {
		t.Helper()
		if pg.Status >= 400 {
			t.Fatalf("%d\n%s", pg.Status, pg.Text())
		}
	}
	post := func(path func() string, form url.Values) func() {
		return func() { t.Helper(); ok(b.Post(path(), form)) }
	}
	at := func(path string) func() string { return func() string { return path } }
	var monitor, webhook, key, newSecret string
	monitorAt := func(action string) func() string {
		return func() string { return "/portal/monitors/" + monitor + "/" + action }
	}
	webhookAt := func(action string) func() string { return func() string { return webhook + action } }
	colleague, group := ten.Users[0], createGroup(t, p, ten.Users[0].UPN)
	ownApp := graphsim.SeedApp{}

	steps := []walkStep{
		{route: "GET /portal/callback", audit: "portal.signed_in", do: func() { b.SignInAs(ten.Admin) }},

		{route: "POST /portal/users/add", audit: "users.upserted", do: post(at("/portal/users/add"), url.Values{"users": {"new.agent@" + ten.Domain}})},
		{route: "POST /portal/users/remove", audit: "user.removed", do: post(at("/portal/users/remove"), url.Values{"upn": {"new.agent@" + ten.Domain}})},
		{route: "POST /portal/users/sync", audit: "sync.requested", do: post(at("/portal/users/sync"), url.Values{})},
		{route: "POST /portal/users/u/{ref}/sync", audit: "sync.requested",
			do: post(at("/portal/users/u/"+url.PathEscape(ten.Users[1].UPN)+"/sync"), url.Values{})},
		{route: "POST /portal/users/csv", audit: "roster.replaced", do: func() { ok(uploadCSV(b, "upn\n"+ten.Users[1].UPN+"\n")) }},
		{route: "POST /portal/users/group", audit: "roster_source.updated", do: post(at("/portal/users/group"), url.Values{"group": {group}})},

		{route: "POST /portal/monitors/", audit: "monitor.added", do: func() {
			ok(b.Post("/portal/monitors/", url.Values{"upn": {ten.Monitors[0].UPN}}))
			ms, err := p.Store.Monitors(ctx, p.Tenant.ID)
			if err != nil || len(ms) != 1 {
				t.Fatalf("monitors after adding one: %v %v", ms, err)
			}
			monitor = ms[0].ID.String()
		}},
		{route: "POST /portal/monitors/{id}/link", audit: "monitor.link_created", do: post(monitorAt("link"), url.Values{})},
		{route: "POST /portal/monitors/{id}/retry", audit: "monitor.link_reset", do: post(monitorAt("retry"), url.Values{})},
		// Authorize now: out to Microsoft as the monitor account, and back
		// through onboarding's callback, which records it.
		{route: "POST /portal/monitors/{id}/authorize", audit: "monitor.authorized", do: func() {
			pg := b.Post(monitorAt("authorize")(), url.Values{})
			q, err := graphsim.NewPerson().SignIn(ctx, pg.Location, ten.Monitors[0].UPN, ten.Monitors[0].Password)
			if err != nil {
				t.Fatalf("monitor sign-in at Microsoft (from %d %s): %v", pg.Status, pg.Location, err)
			}
			ok(b.Get("/onboarding/monitors/callback?" + q.Encode()))
		}},
		{route: "POST /portal/monitors/{id}/renew", audit: "monitor.renewal_requested", do: post(monitorAt("renew"), url.Values{}),
			setup: func() {
				testkit.Exec(t, p.Store.Pool(), `INSERT INTO subscriptions (tenant_id, monitor_id, graph_id, resource, expires_at, user_count)
					VALUES ($1, $2, gen_random_uuid()::text, '/communications/presences', now() + interval '50 minutes', 1)`, p.Tenant.ID, monitor)
			}},
		{route: "POST /portal/monitors/{id}/delete", audit: "monitor.deleted", do: post(monitorAt("delete"), url.Values{})},

		{route: "POST /portal/integration/webhooks", audit: "endpoint.created", do: func() {
			pg := b.Post("/portal/integration/webhooks", url.Values{"url": {testkit.NewWebhookReceiver(t).URL}, "description": {"queue 1"}})
			ok(pg)
			webhook = pg.Location
		}},
		{route: "POST /portal/integration/webhooks/{id}", audit: "endpoint.updated", do: func() {
			ok(b.Post(webhook, url.Values{"url": {testkit.NewWebhookReceiver(t).URL}, "description": {"queue 2"}}))
		}},
		{route: "POST /portal/integration/webhooks/{id}/disable", audit: "endpoint.updated", do: post(webhookAt("/disable"), url.Values{})},
		{route: "POST /portal/integration/webhooks/{id}/enable", audit: "endpoint.updated", do: post(webhookAt("/enable"), url.Values{})},
		{route: "POST /portal/integration/webhooks/{id}/rotate", audit: "endpoint.secret_rotated",
			do: post(webhookAt("/rotate"), url.Values{"overlap": {"3600"}})},
		{route: "POST /portal/integration/webhooks/{id}/reveal", audit: "endpoint.secret_revealed", do: post(webhookAt("/reveal"), url.Values{})},
		{route: "POST /portal/integration/webhooks/{id}/test", audit: "endpoint.tested", do: post(webhookAt("/test"), url.Values{})},
		{route: "POST /portal/integration/webhooks/{id}/replay", audit: "endpoint.replayed", do: post(webhookAt("/replay"), url.Values{})},
		{route: "POST /portal/integration/keys", audit: "api_key.created", do: func() {
			ok(b.Post("/portal/integration/keys", url.Values{"name": {"platform"}, "scopes": {"presence:read"}}))
			ks, err := p.Store.APIKeys(ctx, p.Tenant.ID)
			if err != nil || len(ks) != 1 {
				t.Fatalf("keys after creating one: %v %v", ks, err)
			}
			key = ks[0].ID.String()
		}},
		{route: "POST /portal/integration/keys/{id}/revoke", audit: "api_key.revoked",
			do: func() { ok(b.Post("/portal/integration/keys/"+key+"/revoke", url.Values{})) }},
		{route: "POST /portal/integration/rules", audit: "mapping_rules.updated", do: post(at("/portal/integration/rules"), rulesForm(nil))},

		{route: "POST /portal/admins/", audit: "portal_admin.added", do: post(at("/portal/admins/"), url.Values{"upn": {colleague.UPN}})},
		{route: "POST /portal/admins/{objectID}/remove", audit: "portal_admin.removed",
			do: post(at("/portal/admins/"+colleague.ID.String()+"/remove"), url.Values{})},

		{route: "POST /portal/verify/", audit: "tenant.verified", do: post(at("/portal/verify/"), url.Values{})},

		// A new secret of the tenant's own app registration, made in the
		// registration first (Microsoft's side).
		{route: "POST /portal/app/", audit: "app.own_set", setup: func() {
			ownApp = useOwnApp(t, p, time.Now().AddDate(0, 0, 5))
			newSecret = "new~" + uuid.NewString()
			simSeed(t, p, graphsim.Seed{App: graphsim.SeedApp{ClientID: ownApp.ClientID, ClientSecret: newSecret}})
		}, do: func() {
			ok(b.Post("/portal/app/", url.Values{"clientId": {ownApp.ClientID}, "tenantId": {ten.ID.String()}, "clientSecret": {newSecret},
				"secretExpires": {time.Now().AddDate(1, 0, 0).Format("2006-01-02")}}))
		}},

		{route: "POST /portal/signout", audit: "portal.signed_out", do: post(at("/portal/signout"), url.Values{})},
	}

	// Every state-changing route is walked or said to change nothing, and
	// every step names a route the portal has.
	walked := map[string]bool{}
	for _, s := range steps {
		walked[s.route] = true
	}
	var routes []string
	chi.Walk(p.Routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		r := method + " " + route
		if strings.HasPrefix(route, "/portal/") && (method != http.MethodGet && method != http.MethodHead || slices.Contains(actsOnGET, r)) {
			routes = append(routes, r)
		}
		return nil
	})
	for _, r := range routes {
		if _, ok := changesNothing[r]; !walked[r] && !ok {
			t.Errorf("%s changes state, but this test does not walk it: add a step performing it (or list it in changesNothing, saying why)", r)
		}
	}
	for r := range walked {
		if !slices.Contains(routes, r) {
			t.Errorf("a step walks %s, which the portal does not serve (or does not count as changing state)", r)
		}
	}

	admin := "portal:" + ten.Admin.ID.String()
	for _, s := range steps {
		if s.setup != nil {
			s.setup()
		}
		from := lastAuditID(t, p)
		s.do()
		entries := auditSince(t, p, from)
		if !slices.ContainsFunc(entries, func(e auditLine) bool { return e.action == s.audit }) {
			t.Errorf("%s wrote no %s audit entry (it wrote %v)", s.route, s.audit, entries)
		}
		for _, e := range entries {
			if e.actor != admin || e.tenant != p.Tenant.ID.String() {
				t.Errorf("%s wrote %s as %q of tenant %q, want %q of %s", s.route, e.action, e.actor, e.tenant, admin, p.Tenant.ID)
			}
		}
	}
}

// auditLine is what the walk checks of an audit entry.
type auditLine struct{ actor, tenant, action string }

func lastAuditID(t *testing.T, p *portaltest.Portal) int64 {
	t.Helper()
	var id int64
	if err := p.Store.Pool().QueryRow(t.Context(), `SELECT coalesce(max(id), 0) FROM audit_log`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// auditSince lists the entries after id, of any tenant or none.
func auditSince(t *testing.T, p *portaltest.Portal, id int64) []auditLine {
	t.Helper()
	rows, _ := p.Store.Pool().Query(t.Context(), `SELECT actor, coalesce(tenant_id::text, ''), action FROM audit_log WHERE id > $1 ORDER BY id`, id)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (l auditLine, err error) {
		return l, r.Scan(&l.actor, &l.tenant, &l.action)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
