package onboarding

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/onboarding"
	"presencebridge/internal/store/storetest"
)

func TestConsentDeclinedExplainsAndGrantsNothing(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	c.invited()
	c.formSaved()
	q := c.consentCallback(func(ctx context.Context, p *graphsim.Person, u string) (url.Values, error) { return p.Decline(ctx, u) })
	p := c.follow(c.get("/onboarding/consent/callback?" + q.Encode()))
	wantText(t, p, http.StatusOK, "Consent was declined.", "Press Authorize again and choose Accept")
	if !strings.Contains(p.body, `role="alert"`) {
		t.Error("the consent error is not in a role=alert element")
	}
	if n := strings.Count(p.body, "Consent was declined."); n != 1 {
		t.Errorf("the consent error is shown %d times", n)
	}
	// A later visit still shows why step 1 is not done.
	wantText(t, c.get("/onboarding"), http.StatusOK, "Consent was declined.")
	var msTenant *string
	var status string
	f.pool.QueryRow(t.Context(), `SELECT ms_tenant_id::text, status FROM tenants`).Scan(&msTenant, &status)
	if msTenant != nil || status != "onboarding" {
		t.Errorf("after a declined consent: ms_tenant_id %v, status %s", msTenant, status)
	}
	if strings.Contains(p.body, `id="complete"`) && !strings.Contains(p.body, `id="complete" disabled`) {
		t.Error("Complete is enabled without consent")
	}
}

// A real callback (the admin consented for the declared tenant) whose
// tenant parameter was changed to another tenant's: the state is valid,
// the independent check is what refuses it.
func TestConsentCallbackNamingAnotherTenantIsRefused(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	c.invited()
	c.formSaved()
	q := c.consentCallback(c.asAdmin())
	q.Set("tenant", f.seed.Tenants[1].ID.String())
	p := c.follow(c.get("/onboarding/consent/callback?" + q.Encode()))
	wantText(t, p, http.StatusOK, "Consent was granted for a different Microsoft tenant.", "Sign in with an administrator account of "+f.ten().Domain)
	var msTenant *string
	f.pool.QueryRow(t.Context(), `SELECT ms_tenant_id::text FROM tenants`).Scan(&msTenant)
	if msTenant != nil {
		t.Errorf("the tenant was connected to %s", *msTenant)
	}
}

func TestForgedAndReplayedConsentStateAreRefused(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	c.invited()
	c.formSaved()
	q := c.consentCallback(c.asAdmin())

	forged := url.Values{"admin_consent": {"True"}, "tenant": {f.ten().ID.String()}, "state": {"forged-state"}}
	for name, query := range map[string]url.Values{"forged": forged, "missing": {"admin_consent": {"True"}, "tenant": {f.ten().ID.String()}}} {
		before := f.snapshot()
		p := c.get("/onboarding/consent/callback?" + query.Encode())
		wantText(t, p, http.StatusBadRequest, "This sign-in response was refused.")
		f.requireUnchanged(before)
		if t.Failed() {
			t.Fatalf("%s state", name)
		}
	}
	// The genuine state, but in another browser: bound to its session.
	before := f.snapshot()
	wantText(t, f.newClient().get("/onboarding/consent/callback?"+q.Encode()), http.StatusBadRequest, "This sign-in response was refused.")
	f.requireUnchanged(before)

	// The genuine callback works once, then never again.
	wantText(t, c.follow(c.get("/onboarding/consent/callback?"+q.Encode())), http.StatusOK, "Presence Bridge is authorized.")
	before = f.snapshot()
	wantText(t, c.get("/onboarding/consent/callback?"+q.Encode()), http.StatusBadRequest, "This sign-in response was refused.")
	f.requireUnchanged(before)
}

func TestForgedAndReplayedMonitorStateAreRefused(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	c.invited()
	c.formSaved()
	c.consented()
	id := c.addMonitor(0)
	q := c.monitorCallback(id, f.ten().Monitors[0])

	before := f.snapshot()
	forged := url.Values{"code": q["code"], "state": {"forged-state"}}
	wantText(t, c.get("/onboarding/monitors/callback?"+forged.Encode()), http.StatusBadRequest, "This sign-in response was refused.")
	noState := url.Values{"code": q["code"]}
	wantText(t, c.get("/onboarding/monitors/callback?"+noState.Encode()), http.StatusBadRequest, "This sign-in response was refused.")
	wantText(t, f.newClient().get("/onboarding/monitors/callback?"+q.Encode()), http.StatusBadRequest, "This sign-in response was refused.")
	f.requireUnchanged(before)

	wantText(t, c.follow(c.get("/onboarding/monitors/callback?"+q.Encode())), http.StatusOK, "The monitor is authorized.")
	before = f.snapshot()
	wantText(t, c.get("/onboarding/monitors/callback?"+q.Encode()), http.StatusBadRequest, "This sign-in response was refused.")
	f.requireUnchanged(before)
}

func TestStateExpiresAfterTenMinutes(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	c.invited()
	c.formSaved()
	q := c.consentCallback(c.asAdmin())
	f.advance(stateTTL + time.Second)
	before := f.snapshot()
	wantText(t, c.get("/onboarding/consent/callback?"+q.Encode()), http.StatusBadRequest, "This sign-in took too long.")
	f.requireUnchanged(before)
	// Expired states are used up too.
	wantText(t, c.get("/onboarding/consent/callback?"+q.Encode()), http.StatusBadRequest, "This sign-in response was refused.")
}

func TestMonitorSignedInAsAnotherAccountIsRefused(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	c.invited()
	c.formSaved()
	c.consented()
	id := c.addMonitor(0)
	before := f.snapshot()
	q := c.monitorCallback(id, f.ten().Monitors[1])
	p := c.follow(c.get("/onboarding/monitors/callback?" + q.Encode()))
	wantText(t, p, http.StatusOK, "You signed in as "+f.ten().Monitors[1].UPN+", not as "+f.ten().Monitors[0].UPN+".", "use a private window")
	f.requireUnchanged(before)
}

func TestPasswordSignInWrongPasswordAndMFAChangeNothing(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	tenantID := c.invited()
	c.formSaved()
	c.consented()
	id := c.addMonitor(0)
	mon := f.ten().Monitors[0]
	path := "/onboarding/monitors/" + id.String() + "/password"

	before := f.snapshot()
	p := c.post(path, url.Values{"password": {mon.Password}})
	wantText(t, p, http.StatusUnprocessableEntity, "Password sign-in is turned off.")
	if strings.Contains(c.get("/onboarding").body, "Sign in with password once</summary>") {
		t.Error("the password option is offered while the tenant does not allow it")
	}
	f.requireUnchanged(before)

	if err := f.st.SetAllowPasswordSignIn(t.Context(), tenantID, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.get("/onboarding").body, "Sign in with password once</summary>") {
		t.Error("the password option is missing although the tenant allows it")
	}
	before = f.snapshot()
	wrong := "Wrong-" + mon.Password
	p = c.post(path, url.Values{"password": {wrong}})
	wantText(t, p, http.StatusUnprocessableEntity, "The password is wrong.")
	if strings.Contains(p.body, wrong) {
		t.Error("the page echoes the password")
	}

	f.sim.AddTokenFault(graphsim.TokenFault{User: mon.UPN, Grant: "password", Error: "invalid_grant", Code: 50076,
		Message: "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access."})
	p = c.post(path, url.Values{"password": {mon.Password}})
	wantText(t, p, http.StatusUnprocessableEntity, "This account requires multi-factor authentication.")
	if strings.Contains(p.body, mon.Password) {
		t.Error("the page echoes the password")
	}
	f.requireUnchanged(before)
	storetest.RequireNotStored(t, f.pool, mon.Password)
	storetest.RequireNotStored(t, f.pool, wrong)
	if logs := f.logs.String(); strings.Contains(logs, mon.Password) || strings.Contains(logs, wrong) {
		t.Error("a password is in the logs")
	}
}

func TestExpiredCopyURLExplainsAndChangesNothing(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	c.invited()
	c.formSaved()
	c.consented()
	id := c.addMonitor(0)
	link := c.copyURL(id)
	if !strings.HasPrefix(link, f.base+"/onboarding/m/") {
		t.Fatalf("Copy URL = %s", link)
	}

	f.advance(onboarding.MonitorLinkTTL + time.Minute)
	before := f.snapshot()
	holder := f.newClient()
	p := holder.get(link)
	wantText(t, p, http.StatusGone, "This link has expired.", "Ask your Presence Bridge contact (or the admin who sent it) for a new one.")
	if strings.Contains(p.body, "monitor-sign-in") {
		t.Error("an expired link still offers to sign in")
	}
	f.requireUnchanged(before)
	token := strings.TrimPrefix(link, f.base+"/onboarding/m/")
	if strings.Contains(f.logs.String(), token) {
		t.Error("the Copy URL's token is in the logs")
	}
}

func TestInvitationLinksThatDoNotWork(t *testing.T) {
	f := newFixture(t)
	_, link, err := f.svc.CreateInvite(t.Context(), "Fabrikam", "staff:ops@vendor.example", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := f.newClient()
	wantText(t, c.get("/onboarding/i/k1.bm9wZQ"), http.StatusNotFound, "This link is not valid.")
	wantText(t, c.get("/onboarding"), http.StatusForbidden, "This browser has no onboarding in progress.")
	f.advance(2 * time.Hour)
	wantText(t, c.get(link), http.StatusGone, "This link has expired.")
	wantText(t, c.get("/onboarding"), http.StatusForbidden, "This browser has no onboarding in progress.")
	logs := f.logs.String()
	if token := strings.TrimPrefix(link, f.base+"/onboarding/i/"); strings.Contains(logs, token) {
		t.Error("the invitation token is in the logs")
	}
	if !strings.Contains(logs, `"path":"/onboarding/i/{token}","status":410`) {
		t.Errorf("no request log line for the expired invitation:\n%s", logs)
	}
}

func TestCSRFTokenMissingOrWrongIsRefusedAndChangesNothing(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	c.invited()
	before := f.snapshot()
	for name, token := range map[string]string{"missing": "", "wrong": "not-the-token"} {
		form := f.formValues()
		form.Set("csrf", token)
		p := c.post("/onboarding/form", form)
		wantText(t, p, http.StatusForbidden, "This form has expired or was sent from another site.", "Reload the page and try again.")
		if t.Failed() {
			t.Fatalf("%s token", name)
		}
	}
	f.requireUnchanged(before)
	// The session's own token is accepted.
	c.formSaved()
}

func TestCrossOriginPostIsRefused(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	c.invited()
	before := f.snapshot()
	p := c.post("/onboarding/form", f.formValues(), "Sec-Fetch-Site", "cross-site", "Origin", "https://attacker.example")
	wantText(t, p, http.StatusForbidden, "This form has expired or was sent from another site.")
	p = c.post("/onboarding/form", f.formValues(), "Origin", "https://attacker.example")
	wantText(t, p, http.StatusForbidden, "This form has expired or was sent from another site.")
	f.requireUnchanged(before)
}

func TestFormErrorsKeepWhatWasTypedAndCSVUpload(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	c.invited()
	bad := f.formValues()
	bad.Set("adminEmail", "it@")
	bad.Set("users", "adele@contoso.example\nnot-a-user")
	bad.Set("webhookUrl", "http://10.0.0.5/hook")
	p := c.post("/onboarding/form", bad)
	wantText(t, p, http.StatusUnprocessableEntity, "Check 3 fields below.", "Enter an e-mail address such as it-admin@contoso.com.",
		`Line 2: "not-a-user" is not a UPN or e-mail address`, "Use an https URL")
	for _, kept := range []string{`value="it@"`, "adele@contoso.example\nnot-a-user", `value="http://10.0.0.5/hook"`, `value="acct-42"`} {
		if !strings.Contains(p.body, kept) {
			t.Errorf("the page lost %q", kept)
		}
	}
	var msDomain *string
	var users int
	f.pool.QueryRow(t.Context(), `SELECT ms_domain, (SELECT count(*) FROM directory_users) FROM tenants`).Scan(&msDomain, &users)
	if msDomain != nil || users != 0 {
		t.Errorf("a form with errors changed the tenant: domain %v, %d users", msDomain, users)
	}

	// A CSV upload replaces the list typed; a bad file is an error beside
	// the users field and nothing is saved.
	good := f.formValues()
	good.Set("users", "")
	p = c.postMultipart("/onboarding/form", good, "users.csv", "upn,telephony id\r\n"+f.ten().Users[0].UPN+",1001\r\n"+f.ten().Users[1].UPN+",1002\r\n")
	wantText(t, c.follow(p), http.StatusOK, "Saved.", "For 2 users you need 2 monitors")
	p = c.postMultipart("/onboarding/form", good, "users.csv", "upn\nbob\n")
	wantText(t, p, http.StatusUnprocessableEntity, "The file users.csv was not used", `Line 2: "bob" is not a UPN or e-mail address`)
	f.pool.QueryRow(t.Context(), `SELECT count(*) FROM directory_users`).Scan(&users)
	if users != 2 {
		t.Errorf("after a bad upload: %d users, want the 2 from the good one", users)
	}
}

func TestProductionSessionCookieIsHostPrefixedSecureHTTPOnly(t *testing.T) {
	f := newFixture(t, fixtureOptions{production: true})
	_, link, err := f.svc.CreateInvite(t.Context(), "Contoso", "staff:ops@vendor.example", 0)
	if err != nil {
		t.Fatal(err)
	}
	p := f.newClient().get(link)
	var cookie *http.Cookie
	for _, ck := range (&http.Response{Header: p.header}).Cookies() {
		if ck.Name == "__Host-pb_session" {
			cookie = ck
		}
	}
	if cookie == nil {
		t.Fatalf("no __Host-pb_session cookie: %v", p.header.Values("Set-Cookie"))
	}
	if !cookie.Secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" || cookie.Domain != "" {
		t.Errorf("session cookie = %+v", cookie)
	}
	if cc := p.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("Cache-Control = %q", cc)
	}
}
