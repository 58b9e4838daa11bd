package onboarding

import (
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
)

// ownApp registers a customer's own app registration in graphsim, with
// our monitor redirect URI and admin consent in the first tenant.
func (f *fixture) ownApp() graphsim.SeedApp {
	f.t.Helper()
	app := graphsim.SeedApp{ClientID: uuid.NewString(), ClientSecret: "own~" + uuid.NewString(),
		RedirectURIs: []string{f.svc.MonitorRedirectURI()}}
	ten := f.ten()
	if err := f.sim.Apply(graphsim.Seed{App: app, Tenants: []graphsim.SeedTenant{{ID: ten.ID, Domain: ten.Domain, Consented: true}}}); err != nil {
		f.t.Fatal(err)
	}
	return app
}

func ownAppForm(app graphsim.SeedApp, tenantID uuid.UUID, expires string) url.Values {
	return url.Values{"clientId": {app.ClientID}, "tenantId": {tenantID.String()}, "clientSecret": {app.ClientSecret}, "secretExpires": {expires}}
}

// fieldMessage is the message beside field name, or "".
func fieldMessage(body, name string) string {
	m := regexp.MustCompile(`id="` + name + `-error"[^>]*>([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func (f *fixture) requireNoOwnApp(tenantID uuid.UUID) {
	f.t.Helper()
	if a, err := f.st.GetTenantApp(f.t.Context(), tenantID); !errors.Is(err, store.ErrNoTenantApp) {
		f.t.Errorf("an app registration was stored: %+v %v", a, err)
	}
}

func TestOwnAppFormErrorsKeepWhatWasTypedButNeverTheSecret(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	tenantID := c.invited()
	c.formSaved()
	app := f.ownApp()
	next := time.Now().AddDate(1, 0, 0).Format("2006-01-02")
	before := f.snapshot()

	typed := "typed~" + uuid.NewString()
	p := c.post("/onboarding/own-app", url.Values{"clientId": {"x"}, "tenantId": {"y"}, "clientSecret": {typed}, "secretExpires": {"soon"}})
	wantText(t, p, http.StatusUnprocessableEntity, "Check 3 fields below.", "enter it again")
	for field, want := range map[string]string{"clientId": "Application (client) ID, a GUID", "tenantId": "Directory (tenant) ID",
		"secretExpires": "Enter the date as yyyy-mm-dd."} {
		if got := fieldMessage(p.body, field); !strings.Contains(got, want) {
			t.Errorf("beside %s: %q, want %q", field, got, want)
		}
	}
	for _, kept := range []string{`id="clientId" name="clientId" value="x"`, `id="tenantId" name="tenantId" value="y"`, `value="soon"`} {
		if !strings.Contains(p.body, kept) {
			t.Errorf("the page lost %s", kept)
		}
	}
	if strings.Contains(p.body, typed) {
		t.Error("the page echoes the client secret")
	}
	if !strings.Contains(p.body, `<details class="own-app" id="own-app" open`) {
		t.Error("the form with errors is folded away")
	}

	// A wrong secret: Microsoft refuses it, the message is beside the
	// secret field and nothing is stored.
	wrong := app
	wrong.ClientSecret = "wrong~" + uuid.NewString()
	p = c.post("/onboarding/own-app", ownAppForm(wrong, f.ten().ID, next))
	wantText(t, p, http.StatusUnprocessableEntity, "Check 1 field below.")
	if got := fieldMessage(p.body, "clientSecret"); !strings.Contains(got, "AADSTS7000215") {
		t.Errorf("beside the secret: %q, want Microsoft's invalid-secret error", got)
	}
	if strings.Contains(p.body, wrong.ClientSecret) || !strings.Contains(p.body, `value="`+app.ClientID+`"`) {
		t.Error("after a wrong secret the page echoes the secret or lost the client id")
	}

	// The right secret without an expiry: Presence Bridge cannot read it
	// from Microsoft yet, so the field asks for it.
	p = c.post("/onboarding/own-app", ownAppForm(app, f.ten().ID, ""))
	if got := fieldMessage(p.body, "secretExpires"); p.status != http.StatusUnprocessableEntity || !strings.Contains(got, "enter it") {
		t.Errorf("without an expiry: %d, beside the date %q", p.status, got)
	}

	f.requireUnchanged(before)
	f.requireNoOwnApp(tenantID)
	for _, secret := range []string{typed, wrong.ClientSecret, app.ClientSecret} {
		storetest.RequireNotStored(t, f.pool, secret)
		if strings.Contains(f.logs.String(), secret) {
			t.Error("a client secret is in the logs")
		}
	}
}

func TestOwnAppSignsInMonitorsAndChangingItMarksThemNeedsUpdate(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	c.invited()
	c.formSaved()
	app := f.ownApp()
	expires := time.Now().AddDate(1, 0, 0)

	p := c.get("/onboarding")
	wantText(t, p, http.StatusOK, "Use your own app registration instead", "Presence.Read.All", "User.ReadBasic.All",
		"offline_access", "Grant admin consent")
	if !strings.Contains(p.body, `readonly`) || !strings.Contains(p.body, `value="`+f.svc.MonitorRedirectURI()+`"`) {
		t.Error("the guidance lacks the redirect URI to register")
	}

	p = c.follow(c.post("/onboarding/own-app", ownAppForm(app, f.ten().ID, expires.Format("2006-01-02"))))
	wantText(t, p, http.StatusOK, "Your app registration was accepted.",
		"Using your own app registration "+app.ClientID+", secret expires "+expires.Format("2 January 2006")+".")
	if strings.Contains(p.body, `id="authorize"`) {
		t.Error("step 1 still offers consent to Presence Bridge's app")
	}
	storetest.RequireNotStored(t, f.pool, app.ClientSecret)

	// A monitor signs in through the tenant's app (the administrator's own
	// sign-in, before, was to Presence Bridge's app, as it should be).
	ours := f.sim.CountTokenCalls(graphsim.TokenCalls{ClientID: f.seed.App.ClientID})
	c.authorized(0)
	if n := f.sim.CountTokenCalls(graphsim.TokenCalls{ClientID: app.ClientID, Grant: "authorization_code"}); n != 1 {
		t.Errorf("codes redeemed with the own app = %d, want 1", n)
	}
	if n := f.sim.CountTokenCalls(graphsim.TokenCalls{ClientID: f.seed.App.ClientID}) - ours; n != 0 {
		t.Errorf("%d token calls with Presence Bridge's app for the monitor", n)
	}

	// Another app registration: the monitor must sign in again, and the
	// page says why next to the list.
	app2 := f.ownApp()
	p = c.follow(c.post("/onboarding/own-app", ownAppForm(app2, f.ten().ID, expires.Format("2006-01-02"))))
	wantText(t, p, http.StatusOK, "Using your own app registration "+app2.ClientID, "need to sign in again",
		"Monitors marked Needs update must sign in again.", "Needs update")
	wantText(t, c.get("/onboarding"), http.StatusOK, "Monitors marked Needs update must sign in again.")
	if logs := f.logs.String(); strings.Contains(logs, app.ClientSecret) || strings.Contains(logs, app2.ClientSecret) {
		t.Error("a client secret is in the logs")
	}
}
