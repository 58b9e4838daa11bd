package tenantui_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"presencebridge/internal/deliver"
	"presencebridge/internal/roster"
	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
	"presencebridge/web/portal/portaltest"
	"presencebridge/web/tenantui"
)

// resolvedRoster puts the seed tenant's first n users and
// ghost@contoso.example on the roster and looks them up in graphsim, as
// the engine's roster pass does (ghost is not found); it returns the rows
// by UPN.
func resolvedRoster(t *testing.T, p *portaltest.Portal, n int) map[string]store.DirectoryUser {
	t.Helper()
	upns := []string{"ghost@contoso.example"}
	for _, u := range p.Seed.Tenants[0].Users[:n] {
		upns = append(upns, u.UPN)
	}
	importUsers(t, p, upns...)
	if _, err := roster.New(p.Store).Resolve(t.Context(), p.Tenant.ID, appClient(t, p)); err != nil {
		t.Fatal(err)
	}
	rows, err := p.Store.DirectoryUsers(t.Context(), p.Tenant.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.DirectoryUser{}
	for _, u := range rows {
		out[u.UPN] = u
	}
	return out
}

// activate makes the portal's tenant active, as a completed onboarding
// leaves it: only then are re-syncs taken.
func activate(t *testing.T, p *portaltest.Portal) {
	t.Helper()
	testkit.Exec(t, p.Store.Pool(), `UPDATE tenants SET status = 'active' WHERE id = $1`, p.Tenant.ID)
}

// presenceChange records a change of user's presence as the processor
// does (portaltest.Portal.PresenceChange).
func presenceChange(t *testing.T, p *portaltest.Portal, user uuid.UUID, availability, activity, mapped string) {
	t.Helper()
	p.PresenceChange(t, user, availability, activity, mapped)
}

// deliverDue sends every due delivery once.
func deliverDue(t *testing.T, p *portaltest.Portal) {
	t.Helper()
	if _, err := deliver.New(p.Store, deliver.Options{AllowPrivate: true}).RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// wantBody fails the test unless pg is 200 and its HTML holds every part.
func wantBody(t *testing.T, pg portaltest.Page, parts ...string) {
	t.Helper()
	if pg.Status != http.StatusOK {
		t.Errorf("status %d, want 200", pg.Status)
	}
	missing := false
	for _, s := range parts {
		if !strings.Contains(pg.Body, s) {
			t.Errorf("the page lacks %s", s)
			missing = true
		}
	}
	if missing {
		t.Logf("the page:\n%s", pg.Body)
	}
}

// userPage is the path of a user's page.
func userPage(upn string) string { return "/portal/users/u/" + url.PathEscape(upn) }

func TestAUsersPageShowsTheirPresenceAndATimelineOfEachChangeWithItsDeliveriesAndLastResponses(t *testing.T) {
	p := portaltest.New(t)
	alex := resolvedRoster(t, p, 1)[p.Seed.Tenants[0].Users[0].UPN]
	b := p.Browser()
	b.SignIn()
	b.Get("/portal/integration/")
	rx := testkit.NewWebhookReceiver(t)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	t.Cleanup(down.Close)
	addWebhook(t, b, rx.URL)
	addWebhook(t, b, down.URL+"/presence")

	presenceChange(t, p, *alex.ObjectID, "Available", "Available", "available")
	deliverDue(t, p)
	presenceChange(t, p, *alex.ObjectID, "Busy", "InACall", "talking")
	pg := b.Get(userPage(alex.UPN))
	wantBody(t, pg, `id="user-state">unmonitored: no monitor with room<`, "<code>"+alex.ObjectID.String()+"</code>",
		`id="presence-graph">Busy / InACall<`, `id="presence-state">talking<`)
	text := strings.Join(strings.Fields(pg.Text()), " ")
	for _, s := range []string{"Graph change notification", "Busy / InACall → talking", "Available / Available → available",
		"delivered " + rx.URL + " · 1 attempt · HTTP 204", "pending " + down.URL + "/presence · 1 attempt · HTTP 503",
		"pending " + rx.URL + " · 0 attempts"} { // the newest change, not sent yet
		if !strings.Contains(text, s) {
			t.Errorf("the page lacks %q:\n%s", s, text)
		}
	}
	if strings.Index(text, "Busy / InACall → talking") > strings.Index(text, "Available / Available → available") {
		t.Error("the timeline is not newest first")
	}
	if strings.Count(pg.Body, `class="deliveries"`) != 2 {
		t.Errorf("the timeline does not list each event's deliveries:\n%s", pg.Body)
	}
	portaltest.WantPage(t, b.Get(userPage("ghost@contoso.example")), http.StatusOK, "not found", "Why")
	portaltest.WantPage(t, b.Get(userPage("nobody@contoso.example")), http.StatusNotFound, "nobody@contoso.example is not on the roster.")
}

func TestReSyncingAUserOrEveryUserRecordsAnOperationAuditedAsTheViewerAndItsPageShowsItsState(t *testing.T) {
	p := portaltest.New(t)
	activate(t, p)
	alex := resolvedRoster(t, p, 1)[p.Seed.Tenants[0].Users[0].UPN]
	b := p.Browser()
	b.SignIn()
	actor := "portal:" + p.Seed.Tenants[0].Admin.ID.String()

	b.Get(userPage(alex.UPN))
	pg := b.Post(userPage(alex.UPN)+"/sync", url.Values{})
	if pg.Status != http.StatusSeeOther || !strings.HasPrefix(pg.Location, "/portal/users/sync/") {
		t.Fatalf("re-sync one: %d %q\n%s", pg.Status, pg.Location, pg.Body)
	}
	one := pg.Location
	wantBody(t, b.Get(one), "Re-sync of "+alex.UPN, `id="operation-status">pending<`)
	o, err := p.Store.GetOperation(t.Context(), p.Tenant.ID, uuid.MustParse(strings.TrimPrefix(one, "/portal/users/sync/")))
	if err != nil || o.UserID == nil || *o.UserID != *alex.ObjectID || o.CreatedBy != actor {
		t.Errorf("the re-sync of one user is recorded as %+v (%v)", o, err)
	}

	pg = b.Post("/portal/users/sync", url.Values{})
	if pg.Status != http.StatusSeeOther || !strings.HasPrefix(pg.Location, "/portal/users/sync/") {
		t.Fatalf("re-sync all: %d %q\n%s", pg.Status, pg.Location, pg.Body)
	}
	wantBody(t, b.Get(pg.Location), "Re-sync of every monitored user", `id="operation-status">pending<`)
	o, err = p.Store.GetOperation(t.Context(), p.Tenant.ID, uuid.MustParse(strings.TrimPrefix(pg.Location, "/portal/users/sync/")))
	if err != nil || o.UserID != nil || o.CreatedBy != actor {
		t.Errorf("the re-sync of every user is recorded as %+v (%v)", o, err)
	}
	if got := auditActors(t, p.Store, p.Tenant.ID, "sync.requested"); len(got) != 2 || got[0] != actor || got[1] != actor {
		t.Errorf("the re-syncs are audited as %v, want twice %s", got, actor)
	}

	// The engine's pass runs them.
	if _, err := p.Store.StartSyncOperations(t.Context(), p.Tenant.ID); err != nil {
		t.Fatal(err)
	}
	wantBody(t, b.Get(one), `id="operation-status">running<`, "<dt>Started</dt>")
	if err := p.Store.FailSyncOperations(t.Context(), p.Tenant.ID, "Microsoft Graph answered 503"); err != nil {
		t.Fatal(err)
	}
	wantBody(t, b.Get(one), `id="operation-status">failed<`, `<dt>Why it failed</dt><dd id="operation-error">Microsoft Graph answered 503</dd>`)

	b.Get(userPage("ghost@contoso.example"))
	portaltest.WantPage(t, b.Post(userPage("ghost@contoso.example")+"/sync", url.Values{}), http.StatusConflict, "not resolved")
	portaltest.WantPage(t, b.Get("/portal/users/sync/"+uuid.NewString()), http.StatusNotFound, "This tenant has no re-sync with that id.")
}

func TestRemovingAUserTakesThemOffTheRosterAuditedAsTheViewer(t *testing.T) {
	p := portaltest.New(t)
	importUsers(t, p, "alex@contoso.example", "sam@contoso.example")
	b := p.Browser()
	b.SignIn()
	portaltest.WantPage(t, b.Get(userPage("alex@contoso.example")), http.StatusOK, "Remove from the roster")
	pg := b.Post("/portal/users/remove", url.Values{"upn": {"alex@contoso.example"}})
	if pg.Status != http.StatusSeeOther {
		t.Fatalf("remove: %d\n%s", pg.Status, pg.Body)
	}
	portaltest.WantPage(t, b.Get(pg.Location), http.StatusOK, "The user was removed")
	rows, _ := p.Store.DirectoryUsers(t.Context(), p.Tenant.ID, false)
	if len(rows) != 1 || rows[0].UPN != "sam@contoso.example" {
		t.Errorf("after removing alex the roster is %+v", rows)
	}
	if got := auditActors(t, p.Store, p.Tenant.ID, "user.removed"); len(got) != 1 || got[0] != "portal:"+p.Seed.Tenants[0].Admin.ID.String() {
		t.Errorf("the removal is audited as %v", got)
	}
	pg = b.Post("/portal/users/remove", url.Values{"upn": {"alex@contoso.example"}})
	portaltest.WantPage(t, b.Get(pg.Location), http.StatusOK, "That user was not on the roster.")
	if got := auditActors(t, p.Store, p.Tenant.ID, "user.removed"); len(got) != 1 {
		t.Errorf("removing nobody is audited: %v", got)
	}
}

func TestALookOnlyViewerIsOfferedNoUsersActionAndRefusedEachWith403(t *testing.T) {
	p := portaltest.New(t)
	activate(t, p)
	alex := resolvedRoster(t, p, 1)[p.Seed.Tenants[0].Users[0].UPN]
	srv := lookOnly(t, p, tenantui.Deps{})
	get := func(path string) string {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return string(body)
	}
	for path, ids := range map[string][]string{
		"/t/users/":                              {"add-users", "upload-csv", "use-group", "sync-all"},
		"/t/users/u/" + url.PathEscape(alex.UPN): {"sync-user", "remove-user"},
	} {
		body := get(path)
		for _, id := range ids {
			if strings.Contains(body, `id="`+id+`"`) {
				t.Errorf("%s offers #%s to a viewer who may only look", path, id)
			}
		}
	}
	for _, path := range []string{"/t/users/add", "/t/users/csv", "/t/users/group", "/t/users/remove",
		"/t/users/sync", "/t/users/u/" + url.PathEscape(alex.UPN) + "/sync"} {
		form := url.Values{"csrf": {"token"}, "users": {"new@contoso.example"}, "group": {uuid.NewString()}, "upn": {alex.UPN}}
		resp, err := http.PostForm(srv.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "You may look at this tenant but not change it.") {
			t.Errorf("POST %s by a look-only viewer: %d", path, resp.StatusCode)
		}
	}
	rows, _ := p.Store.DirectoryUsers(t.Context(), p.Tenant.ID, false)
	src, _ := p.Store.TenantRosterSource(t.Context(), p.Tenant.ID)
	var ops int
	p.Store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM operations WHERE tenant_id = $1`, p.Tenant.ID).Scan(&ops)
	if len(rows) != 2 || src.Kind != store.SourceList || ops != 0 {
		t.Errorf("a look-only viewer changed something: %d users, a %s roster, %d operations", len(rows), src.Kind, ops)
	}
}
