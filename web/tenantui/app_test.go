package tenantui_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/onboarding"
	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
	"presencebridge/web/portal/portaltest"
	"presencebridge/web/tenantui"
)

// ownApp registers a customer's own app in graphsim (over its control
// API) with a secret expiring at exp, consented in the first tenant, and
// makes it the first tenant's app registration with a monitor authorized
// through it.
func ownApp(t *testing.T, p *portaltest.Portal, exp time.Time) (graphsim.SeedApp, store.Monitor) {
	t.Helper()
	app := useOwnApp(t, p, exp)
	m, err := p.Store.AddMonitor(t.Context(), p.Tenant.ID, p.Seed.Tenants[0].Monitors[0].UPN)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Exec(t, p.Store.Pool(), `UPDATE monitors SET status = 'authorized' WHERE id = $1`, m.ID)
	return app, m
}

// useOwnApp registers a customer's own app in graphsim with a secret
// expiring at exp, consented in the first tenant, and makes it the first
// tenant's app registration.
func useOwnApp(t *testing.T, p *portaltest.Portal, exp time.Time) graphsim.SeedApp {
	t.Helper()
	app := graphsim.SeedApp{ClientID: uuid.NewString(), ClientSecret: "old~" + uuid.NewString(), SecretExpires: &exp,
		DisplayName: "Contoso presence"}
	ten := p.Seed.Tenants[0]
	simSeed(t, p, graphsim.Seed{App: app, Tenants: []graphsim.SeedTenant{{ID: ten.ID, Domain: ten.Domain, Consented: true}}})
	fe, err := p.Onboarding.SetOwnApp(t.Context(), p.Tenant.ID, onboarding.OwnApp{ClientID: app.ClientID, TenantID: ten.ID.String(),
		ClientSecret: app.ClientSecret, SecretExpires: exp.Format("2006-01-02")}, nil, "test")
	if err != nil || fe != nil {
		t.Fatalf("own app: %v %v", fe, err)
	}
	return app
}

// simSeed applies a seed through graphsim's control API, as a person
// setting up Microsoft's side would.
func simSeed(t *testing.T, p *portaltest.Portal, seed graphsim.Seed) {
	t.Helper()
	b, _ := json.Marshal(seed)
	resp, err := http.Post(p.SimURL+"/_sim/seed", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("graphsim seed: %d", resp.StatusCode)
	}
}

func storedSecret(t *testing.T, p *portaltest.Portal) string {
	t.Helper()
	s, err := p.Store.TenantAppSecret(t.Context(), p.Tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func monitorStatus(t *testing.T, p *portaltest.Portal, id uuid.UUID) string {
	t.Helper()
	m, err := p.Store.GetMonitor(t.Context(), p.Tenant.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	return m.Status
}

func TestATenantOnOurAppIsToldItUsesPresenceBridgesApp(t *testing.T) {
	p := portaltest.New(t)
	c := p.Browser()
	c.SignInAs(p.Seed.Tenants[0].Admin)
	pg := c.Get("/portal/app/")
	portaltest.WantPage(t, pg, 200, "uses Presence Bridge's app registration")
	if strings.Contains(pg.Body, `id="clientSecret"`) {
		t.Error("a tenant on our app is offered a secret to replace")
	}
}

func TestAnOwnAppsSecretShowsItsExpiryAndTheSameWarningsAsTheAlerts(t *testing.T) {
	p := portaltest.New(t)
	exp := time.Now().Add(10*24*time.Hour + time.Hour).UTC()
	app, _ := ownApp(t, p, exp)
	testkit.Exec(t, p.Store.Pool(), `UPDATE tenant_apps SET secret_expires_at = $2 WHERE tenant_id = $1`, p.Tenant.ID, exp)
	c := p.Browser()
	c.SignInAs(p.Seed.Tenants[0].Admin)
	day := func(d int) string { return exp.Truncate(24*time.Hour).AddDate(0, 0, -d).Format("2 January 2006") }
	portaltest.WantPage(t, c.Get("/portal/app/"), 200, app.ClientID, "Expires in 10 days",
		"30 days before: "+day(30)+" (in force)", "7 days before: "+day(7)+" (to come)", "1 day before: "+day(1)+" (to come)")

	// Four days on, the 7-day warning is the one in force, as its alert.
	exp = exp.Add(-4 * 24 * time.Hour)
	testkit.Exec(t, p.Store.Pool(), `UPDATE tenant_apps SET secret_expires_at = $2 WHERE tenant_id = $1`, p.Tenant.ID, exp)
	portaltest.WantPage(t, c.Get("/portal/app/"), 200, "Expires in 6 days",
		"30 days before: "+day(30)+" (sent)", "7 days before: "+day(7)+" (in force)")
}

func TestANewSecretIsProvedWithMicrosoftBeforeItIsSaved(t *testing.T) {
	p := portaltest.New(t)
	app, m := ownApp(t, p, time.Now().AddDate(0, 0, 5))
	c := p.Browser()
	c.SignInAs(p.Seed.Tenants[0].Admin)
	ten := p.Seed.Tenants[0]
	form := func(secret string) url.Values {
		return url.Values{"clientId": {app.ClientID}, "tenantId": {ten.ID.String()}, "clientSecret": {secret},
			"secretExpires": {time.Now().AddDate(1, 0, 0).Format("2006-01-02")}}
	}

	// A secret the app does not have: refused in words, nothing saved.
	c.Get("/portal/app/")
	pg := c.Post("/portal/app/", form("not~the~secret"))
	portaltest.WantPage(t, pg, http.StatusUnprocessableEntity, "Check 1 field below.", "AADSTS7000215")
	if strings.Contains(pg.Body, "not~the~secret") {
		t.Error("the refused secret is echoed back")
	}
	if storedSecret(t, p) != app.ClientSecret {
		t.Fatal("a refused secret was stored")
	}

	// A new secret created in the app registration: accepted and used.
	newSecret := "new~" + uuid.NewString()
	simSeed(t, p, graphsim.Seed{App: graphsim.SeedApp{ClientID: app.ClientID, ClientSecret: newSecret}})
	pg = c.Post("/portal/app/", form(newSecret))
	if pg.Status != http.StatusSeeOther || pg.Location != "/portal/app/?done=secret" {
		t.Fatalf("replace: %d %q\n%s", pg.Status, pg.Location, pg.Body)
	}
	portaltest.WantPage(t, c.Get(pg.Location), 200, "The new client secret was accepted.")
	if storedSecret(t, p) != newSecret {
		t.Error("the new secret was not stored")
	}
	if s := monitorStatus(t, p, m.ID); s != store.MonitorAuthorized {
		t.Errorf("monitor after a new secret of the same app: %s, want authorized", s)
	}
	var actor string
	p.Store.Pool().QueryRow(t.Context(), `SELECT actor FROM audit_log WHERE action = 'app.own_set' AND tenant_id = $1 ORDER BY id DESC LIMIT 1`,
		p.Tenant.ID).Scan(&actor)
	if actor != "portal:"+ten.Admin.ID.String() {
		t.Errorf("replacement audited as %q", actor)
	}
}

func TestAnotherAppRegistrationMarksTheMonitorsNeedsUpdate(t *testing.T) {
	p := portaltest.New(t)
	_, m := ownApp(t, p, time.Now().AddDate(0, 0, 5))
	ten := p.Seed.Tenants[0]
	other := graphsim.SeedApp{ClientID: uuid.NewString(), ClientSecret: "other~" + uuid.NewString()}
	simSeed(t, p, graphsim.Seed{App: other, Tenants: []graphsim.SeedTenant{{ID: ten.ID, Domain: ten.Domain, Consented: true}}})
	c := p.Browser()
	c.SignInAs(ten.Admin)
	c.Get("/portal/app/")
	pg := c.Post("/portal/app/", url.Values{"clientId": {other.ClientID}, "tenantId": {ten.ID.String()}, "clientSecret": {other.ClientSecret},
		"secretExpires": {time.Now().AddDate(1, 0, 0).Format("2006-01-02")}})
	if pg.Status != http.StatusSeeOther || pg.Location != "/portal/app/?done=app" {
		t.Fatalf("another app: %d %q\n%s", pg.Status, pg.Location, pg.Body)
	}
	if s := monitorStatus(t, p, m.ID); s != store.MonitorNeedsUpdate {
		t.Errorf("monitor after the app changed: %s, want needs_update", s)
	}
	portaltest.WantPage(t, c.Get(pg.Location), 200, "The app registration was accepted.",
		"1 monitor needs to sign in again through this app registration: "+ten.Monitors[0].UPN)
}

func TestAViewerWhoMayOnlyLookCannotReplaceTheSecret(t *testing.T) {
	p := portaltest.New(t)
	app, _ := ownApp(t, p, time.Now().AddDate(0, 0, 5))
	srv := lookOnly(t, p, tenantui.Deps{Onboarding: p.Onboarding})

	resp, err := http.Get(srv.URL + "/t/app/")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(body.String(), app.ClientID) || strings.Contains(body.String(), `id="clientSecret"`) {
		t.Errorf("a looking viewer's page: %d, form offered: %v", resp.StatusCode, strings.Contains(body.String(), `id="clientSecret"`))
	}
	resp, err = http.PostForm(srv.URL+"/t/app/", url.Values{"clientId": {app.ClientID}, "tenantId": {p.Seed.Tenants[0].ID.String()},
		"clientSecret": {app.ClientSecret}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST by a looking viewer: %d, want 403", resp.StatusCode)
	}
}
