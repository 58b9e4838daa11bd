package tenantui_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/portaladmin"
	"presencebridge/internal/tenantview"
	"presencebridge/internal/testkit"
	"presencebridge/web/portal/portaltest"
	"presencebridge/web/tenantui"
)

func TestAnAdminAddedByUPNIsFoundInTheDirectoryAndCanThenSignIn(t *testing.T) {
	p := portaltest.New(t)
	admin, colleague := p.Seed.Tenants[0].Admin, p.Seed.Tenants[0].Users[0]
	b := p.Browser()
	b.SignInAs(admin)
	b.Get("/portal/admins/")

	pg := b.Post("/portal/admins/", url.Values{"upn": {" " + strings.ToUpper(colleague.UPN) + " "}})
	if pg.Status != http.StatusSeeOther || pg.Location != "/portal/admins/?done=added" {
		t.Fatalf("add: %d %s\n%s", pg.Status, pg.Location, pg.Body)
	}
	portaltest.WantPage(t, b.Get(pg.Location), 200, "The administrator was added.", "2 administrators", colleague.UPN)
	a, err := p.Store.PortalAdmin(t.Context(), p.Tenant.ID, colleague.ID)
	if err != nil {
		t.Fatalf("not stored under the directory's object id: %v", err)
	}
	if a.UPN != colleague.UPN || a.MSTenantID != p.Seed.Tenants[0].ID {
		t.Errorf("stored as %q of %s, want the directory's UPN %q of %s", a.UPN, a.MSTenantID, colleague.UPN, p.Seed.Tenants[0].ID)
	}
	wantAudit(t, p, "portal_admin.added", "portal:"+admin.ID.String(), colleague.UPN)

	c := p.Browser()
	c.SignInAs(colleague) // fails the test unless they reach Home
	portaltest.WantPage(t, c.Get("/portal/admins/"), 200, "Signed in as "+colleague.UPN)
}

func TestAddingAnAdminRefusesInWordsWhatCannotBeOne(t *testing.T) {
	p := portaltest.New(t)
	ten := p.Seed.Tenants[0]
	disabled, err := p.Sim.AddUser(ten.ID, graphsim.SeedUser{UPN: "gone@" + ten.Domain, Password: "pw", Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	guest, err := p.Sim.AddUser(ten.ID, graphsim.SeedUser{UPN: "pat_fabrikam.example#EXT#@" + ten.Domain, Password: "pw", Guest: true})
	if err != nil {
		t.Fatal(err)
	}
	b := p.Browser()
	b.SignInAs(ten.Admin)
	for _, c := range []struct{ upn, want string }{
		{"", "Enter the account's user principal name"},
		{"nobody@" + ten.Domain, "There is no account nobody@" + ten.Domain + " in your organization's directory."},
		{p.Seed.Tenants[1].Users[0].UPN, "There is no account " + p.Seed.Tenants[1].Users[0].UPN + " in your organization's directory."},
		{disabled.UPN, disabled.UPN + "'s account is disabled in your directory"},
		{"pat@fabrikam.example", guest.UPN + " is a guest in your directory, an account of another organization."},
		{ten.Admin.UPN, ten.Admin.UPN + " is already a portal administrator."},
	} {
		b.Get("/portal/admins/")
		pg := b.Post("/portal/admins/", url.Values{"upn": {c.upn}})
		portaltest.WantPage(t, pg, http.StatusUnprocessableEntity, c.want)
		if c.upn != "" && !strings.Contains(pg.Body, `value="`+c.upn+`"`) {
			t.Errorf("%q: the form does not keep what was entered", c.upn)
		}
	}
	if as, _ := p.Store.PortalAdmins(t.Context(), p.Tenant.ID); len(as) != 1 {
		t.Errorf("%d admins after refusals, want 1", len(as))
	}
}

func TestTheLastAdminCannotBeRemoved(t *testing.T) {
	p := portaltest.New(t)
	admin := p.Seed.Tenants[0].Admin
	b := p.Browser()
	b.SignInAs(admin)
	pg := b.Get("/portal/admins/")
	portaltest.WantPage(t, pg, 200, "The only administrator cannot be removed")
	if strings.Contains(pg.Body, "remove-admin") {
		t.Error("Remove is offered for the only admin")
	}
	portaltest.WantPage(t, b.Post("/portal/admins/"+admin.ID.String()+"/remove", url.Values{"confirm": {"yes"}}),
		http.StatusConflict, "This is the only portal administrator. Add another before removing this one.")
	if _, err := p.Store.PortalAdmin(t.Context(), p.Tenant.ID, admin.ID); err != nil {
		t.Errorf("the last admin was removed: %v", err)
	}

	// Nor by two admins removing each other at once: one of them stays
	// (tried a number of times, for the two to overlap).
	other := p.Seed.Tenants[0].Users[0]
	svc := portaladmin.New(p.Store, nil)
	for range 20 {
		testkit.Exec(t, p.Store.Pool(), `DELETE FROM portal_admins WHERE tenant_id = $1`, p.Tenant.ID)
		addDirectly(t, p, admin)
		addDirectly(t, p, other)
		start, errs := make(chan struct{}), make(chan error, 2)
		for _, pair := range [][2]uuid.UUID{{admin.ID, other.ID}, {other.ID, admin.ID}} {
			go func() {
				<-start
				_, err := svc.Remove(context.Background(), p.Tenant.ID, pair[1], "portal:"+pair[0].String())
				errs <- err
			}()
		}
		close(start)
		e1, e2 := <-errs, <-errs
		if as, _ := p.Store.PortalAdmins(t.Context(), p.Tenant.ID); len(as) != 1 || (e1 == nil) == (e2 == nil) {
			t.Fatalf("after removing each other at once: %d admins (errors %v, %v), want 1", len(as), e1, e2)
		}
	}
}

func TestARemovedAdminsSessionIsRefusedOnItsNextRequest(t *testing.T) {
	p := portaltest.New(t)
	admin, colleague := p.Seed.Tenants[0].Admin, p.Seed.Tenants[0].Users[0]
	addDirectly(t, p, colleague)
	c := p.Browser()
	c.SignInAs(colleague)
	portaltest.WantPage(t, c.Get("/portal/users/"), 200, "Signed in as "+colleague.UPN)

	b := p.Browser()
	b.SignInAs(admin)
	b.Get("/portal/admins/")
	if pg := b.Post("/portal/admins/"+colleague.ID.String()+"/remove", url.Values{}); pg.Status != http.StatusSeeOther ||
		pg.Location != "/portal/admins/?done=removed" {
		t.Fatalf("remove: %d %s\n%s", pg.Status, pg.Location, pg.Body)
	}
	wantAudit(t, p, "portal_admin.removed", "portal:"+admin.ID.String(), colleague.UPN)

	portaltest.WantPage(t, c.Get("/portal/users/"), http.StatusForbidden,
		colleague.UPN+" is no longer a portal administrator, so you are signed out.")
	if pg := c.Get("/portal/users/"); pg.Status != http.StatusSeeOther || pg.Location != "/portal" {
		t.Errorf("the session was not ended: %d %s", pg.Status, pg.Location)
	}
}

func TestRemovingYourselfAsksFirstThenSignsYouOut(t *testing.T) {
	p := portaltest.New(t)
	admin, colleague := p.Seed.Tenants[0].Admin, p.Seed.Tenants[0].Users[0]
	addDirectly(t, p, colleague)
	b := p.Browser()
	b.SignInAs(admin)
	b.Get("/portal/admins/")
	self := "/portal/admins/" + admin.ID.String() + "/remove"
	portaltest.WantPage(t, b.Post(self, url.Values{}), 200, "Remove yourself?", "You will be signed out at once", "Remove me and sign out")
	if _, err := p.Store.PortalAdmin(t.Context(), p.Tenant.ID, admin.ID); err != nil {
		t.Fatalf("removed without confirming: %v", err)
	}
	pg := b.Post(self, url.Values{"confirm": {"yes"}})
	if pg.Status != http.StatusSeeOther || pg.Location != "/portal/" {
		t.Fatalf("confirmed removal: %d %s\n%s", pg.Status, pg.Location, pg.Body)
	}
	portaltest.WantPage(t, b.Get(pg.Location), http.StatusForbidden, "is no longer a portal administrator, so you are signed out.")
	if as, _ := p.Store.PortalAdmins(t.Context(), p.Tenant.ID); len(as) != 1 || as[0].ObjectID != colleague.ID {
		t.Errorf("admins after removing oneself: %v", as)
	}
}

func TestAViewerWhoMayOnlyLookCannotChangeTheAdmins(t *testing.T) {
	p := portaltest.New(t)
	colleague := p.Seed.Tenants[0].Users[0]
	addDirectly(t, p, colleague)
	srv := lookOnly(t, p, tenantui.Deps{Admins: portaladmin.New(p.Store, nil)})

	resp, err := http.Get(srv.URL + "/t/admins/")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(body, colleague.UPN) || strings.Contains(body, `id="upn"`) || strings.Contains(body, "remove-admin") {
		t.Errorf("a looking viewer's page: %d, offers changes: %v", resp.StatusCode, strings.Contains(body, `id="upn"`))
	}
	for path, form := range map[string]url.Values{
		"/t/admins/": {"upn": {p.Seed.Tenants[0].Users[1].UPN}},
		"/t/admins/" + colleague.ID.String() + "/remove": {"confirm": {"yes"}},
	} {
		resp, err := http.PostForm(srv.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s by a looking viewer: %d, want 403", path, resp.StatusCode)
		}
	}
	if as, _ := p.Store.PortalAdmins(t.Context(), p.Tenant.ID); len(as) != 2 {
		t.Errorf("a looking viewer changed the admins: %d", len(as))
	}
}

// lookOnly serves p's tenant pages at /t, with d's services, to a viewer
// who may only look (as a console viewer will): no CSRF token, a sign-in
// always fresh enough, so only CanChange stands between them and a change.
func lookOnly(t *testing.T, p *portaltest.Portal, d tenantui.Deps) *httptest.Server {
	t.Helper()
	d.Store, d.Views = p.Store, tenantview.New(p.Store)
	d.Viewer = func(*http.Request) tenantui.Viewer {
		return tenantui.Viewer{TenantID: p.Tenant.ID, Actor: "staff:viewer", Name: "viewer@vendor.example", Base: "/t",
			SignOut: "/t/signout", CanChange: false}
	}
	d.CSRFToken = func(context.Context) string { return "" }
	d.RequireFresh = func(http.ResponseWriter, *http.Request) bool { return true }
	r := chi.NewRouter()
	r.Route("/t", tenantui.Routes(d))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// addDirectly makes who a portal admin as onboarding would, without the
// pages.
func addDirectly(t *testing.T, p *portaltest.Portal, who graphsim.SeedUser) {
	t.Helper()
	if _, err := p.Store.Pool().Exec(t.Context(), `INSERT INTO portal_admins (tenant_id, object_id, ms_tenant_id, upn, added_by)
		VALUES ($1, $2, $3, $4, 'test')`, p.Tenant.ID, who.ID, p.Seed.Tenants[0].ID, who.UPN); err != nil {
		t.Fatal(err)
	}
}

// wantAudit fails the test unless the tenant's audit log has action by
// actor naming upn.
func wantAudit(t *testing.T, p *portaltest.Portal, action, actor, upn string) {
	t.Helper()
	var n int
	if err := p.Store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = $2
		AND actor = $3 AND detail->>'upn' = $4`, p.Tenant.ID, action, actor, upn).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d audit entries %s by %s for %s, want 1", n, action, actor, upn)
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
