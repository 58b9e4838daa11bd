package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graphsim"
)

const (
	consentCallback = "https://bridge.example.com/onboarding/consent/callback"
	monitorCallback = "https://bridge.example.com/onboarding/monitors/callback"
)

type fixture struct {
	sim  *graphsim.Sim
	srv  *httptest.Server
	seed graphsim.Seed
	id   *Client
	app  App
}

// newFixture serves graphsim over real HTTP with two tenants: the first
// consented, the second not.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{sim: graphsim.New(graphsim.Options{})}
	f.srv = httptest.NewServer(f.sim.Handler())
	t.Cleanup(f.srv.Close)
	f.sim.SetBaseURL(f.srv.URL)
	f.seed = graphsim.GenerateSeed(2, 2, 2, 11)
	f.seed.App.RedirectURIs = []string{consentCallback, monitorCallback}
	f.seed.Tenants[1].Consented = false
	if err := f.sim.Apply(f.seed); err != nil {
		t.Fatal(err)
	}
	var err error
	if f.id, err = New(Options{LoginURL: f.srv.URL}); err != nil {
		t.Fatal(err)
	}
	f.app = App{ClientID: f.seed.App.ClientID, ClientSecret: f.seed.App.ClientSecret}
	return f
}

func wantClass(t *testing.T, err error, class Class, aadsts int) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *identity.Error", err, err)
	}
	if e.Class != class || (aadsts != 0 && !e.Has(aadsts)) {
		t.Fatalf("err = %v: class %v codes %v, want %v with AADSTS%d", e, e.Class, e.AADSTS, class, aadsts)
	}
	if e.Advice() == "" || e.TraceID == "" && e.Status != 0 {
		t.Errorf("error lacks advice or trace id: %+v", e)
	}
	return e
}

func TestNewRejectsABadLoginURL(t *testing.T) {
	for _, u := range []string{"login.microsoftonline.com", "ftp://x", "http://"} {
		if _, err := New(Options{LoginURL: u}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	c, err := New(Options{})
	if err != nil || !strings.HasPrefix(c.AdminConsentURL(App{ClientID: "x"}, "contoso.com", "https://r", "s"), DefaultLoginURL+"/contoso.com/v2.0/adminconsent?") {
		t.Errorf("default login URL: %v", err)
	}
}

func TestAdminConsentGrantedThenConfirmedIndependently(t *testing.T) {
	f := newFixture(t)
	ten := f.seed.Tenants[1] // not consented yet
	u := f.id.AdminConsentURL(f.app, ten.Domain, consentCallback, "state-1")
	parsed, _ := url.Parse(u)
	if q := parsed.Query(); q.Get("scope") != GraphDefaultScope || q.Get("client_id") != f.app.ClientID || q.Get("redirect_uri") != consentCallback {
		t.Fatalf("consent URL %s", u)
	}

	// Before consent: no app token, ConsentMissing.
	_, err := f.id.ConfirmConsent(t.Context(), f.app, ten.ID.String(), graphsim.DefaultApplication)
	wantClass(t, err, ConsentMissing, 7000229)

	q, err := graphsim.NewPerson().SignIn(t.Context(), u, ten.Admin.UPN, ten.Admin.Password)
	if err != nil {
		t.Fatal(err)
	}
	res := ParseConsentCallback(q)
	if !res.Granted || res.State != "state-1" || res.Tenant != ten.ID.String() {
		t.Fatalf("callback = %+v", res)
	}
	at, err := f.id.ConfirmConsent(t.Context(), f.app, res.Tenant, graphsim.DefaultApplication)
	if err != nil {
		t.Fatalf("ConfirmConsent: %v", err)
	}
	if at.TenantID != ten.ID || len(at.Roles) != len(graphsim.DefaultApplication) || at.Expiry.Before(time.Now()) {
		t.Errorf("app token = %+v", at)
	}
	// Roles we need but the registration lacks: incomplete consent.
	_, err = f.id.ConfirmConsent(t.Context(), f.app, res.Tenant, append(slices.Clone(graphsim.DefaultApplication), "Directory.Read.All"))
	if !errors.Is(err, ErrConsentIncomplete) || !strings.Contains(err.Error(), "Directory.Read.All") {
		t.Errorf("missing role: %v", err)
	}
}

func TestAdminConsentDeclinedAndNonAdmin(t *testing.T) {
	f := newFixture(t)
	ten := f.seed.Tenants[1]
	u := f.id.AdminConsentURL(f.app, ten.Domain, consentCallback, "s")
	q, err := graphsim.NewPerson().Decline(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	if res := ParseConsentCallback(q); res.Granted || res.Error == "" || res.State != "s" {
		t.Errorf("declined callback = %+v", res)
	}
	// A user who is not an administrator cannot grant tenant-wide consent.
	_, err = graphsim.NewPerson().SignIn(t.Context(), u, ten.Users[0].UPN, ten.Users[0].Password)
	if msg, ok := graphsim.IsPageError(err); !ok || !strings.Contains(msg, "90094") {
		t.Errorf("non-admin consent: %v", err)
	}
	if res := ParseConsentCallback(url.Values{"admin_consent": {"True"}, "error": {"x"}}); res.Granted {
		t.Error("an error callback counted as granted")
	}
}

func TestMonitorSignInWithPKCE(t *testing.T) {
	f := newFixture(t)
	ten, mon := f.seed.Tenants[0], f.seed.Tenants[0].Monitors[0]
	si := f.id.MonitorSignIn(f.app, ten.ID.String(), monitorCallback, mon.UPN, "st")
	parsed, _ := url.Parse(si.URL)
	q := parsed.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("login_hint") != mon.UPN || q.Get("nonce") != si.Nonce ||
		!strings.Contains(q.Get("scope"), "offline_access") || !strings.Contains(q.Get("scope"), "Presence.Read.All") {
		t.Fatalf("authorize URL %s", si.URL)
	}
	cb, err := graphsim.NewPerson().SignIn(t.Context(), si.URL, mon.UPN, mon.Password)
	if err != nil {
		t.Fatal(err)
	}
	// A wrong verifier is refused (AADSTS501481) …
	bad := si
	bad.Verifier = strings.Repeat("x", 43)
	_, err = f.id.Redeem(t.Context(), f.app, ten.ID.String(), monitorCallback, cb.Get("code"), bad)
	wantClass(t, err, Reauthorize, 501481)
	// … and the right one works once: a code is single use (AADSTS54005).
	cb, _ = graphsim.NewPerson().SignIn(t.Context(), si.URL, mon.UPN, mon.Password)
	g, err := f.id.Redeem(t.Context(), f.app, ten.ID.String(), monitorCallback, cb.Get("code"), si)
	if err != nil {
		t.Fatalf("Redeem: %v", err)
	}
	if g.RefreshToken == "" || g.AccessToken == "" || g.Account.ObjectID != mon.ID || g.Account.TenantID != ten.ID ||
		!strings.EqualFold(g.Account.Username, mon.UPN) {
		t.Errorf("grant = %+v", g.Account)
	}
	_, err = f.id.Redeem(t.Context(), f.app, ten.ID.String(), monitorCallback, cb.Get("code"), si)
	wantClass(t, err, Reauthorize, 54005)

	// Another sign-in's nonce is not this one's.
	si2 := f.id.MonitorSignIn(f.app, ten.ID.String(), monitorCallback, mon.UPN, "st2")
	cb, _ = graphsim.NewPerson().SignIn(t.Context(), si2.URL, mon.UPN, mon.Password)
	wrongNonce := si2
	wrongNonce.Nonce = "other"
	if _, err := f.id.Redeem(t.Context(), f.app, ten.ID.String(), monitorCallback, cb.Get("code"), wrongNonce); ClassOf(err) != Invalid {
		t.Errorf("nonce mismatch: %v", err)
	}
}

func TestRefreshRotatesAndClassifiesDeadGrants(t *testing.T) {
	f := newFixture(t)
	ten, mon := f.seed.Tenants[0], f.seed.Tenants[0].Monitors[1]
	g, err := f.id.PasswordOnce(t.Context(), f.app, ten.ID.String(), mon.UPN, mon.Password)
	if err != nil {
		t.Fatal(err)
	}
	r1, err := f.id.Refresh(t.Context(), f.app, ten.ID.String(), g.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if r1.RefreshToken == "" || r1.RefreshToken == g.RefreshToken {
		t.Errorf("refresh token did not rotate")
	}
	if !f.sim.RevokeUser(mon.ID) {
		t.Fatal("revoke")
	}
	_, err = f.id.Refresh(t.Context(), f.app, ten.ID.String(), r1.RefreshToken)
	e := wantClass(t, err, Reauthorize, 50173)
	if e.Code != "invalid_grant" || !strings.HasPrefix(e.Summary, "AADSTS50173") || strings.Contains(e.Summary, "\n") {
		t.Errorf("error = %+v", e)
	}
	if strings.Contains(e.Error(), r1.RefreshToken) {
		t.Error("the error text holds the refresh token")
	}
}

func TestPasswordOnceErrors(t *testing.T) {
	f := newFixture(t)
	ten, mon := f.seed.Tenants[0], f.seed.Tenants[0].Monitors[0]
	_, err := f.id.PasswordOnce(t.Context(), f.app, ten.ID.String(), mon.UPN, "wrong")
	wantClass(t, err, Reauthorize, 50126)
	f.srv.Client()
	req, _ := http.NewRequest("PATCH", f.srv.URL+"/_sim/users/"+mon.ID.String(), strings.NewReader(`{"mfaRequired":true}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("set MFA: %v %v", resp, err)
	}
	_, err = f.id.PasswordOnce(t.Context(), f.app, ten.ID.String(), mon.UPN, mon.Password)
	if e := wantClass(t, err, Reauthorize, 50076); !strings.Contains(e.Advice(), "multi-factor") {
		t.Errorf("advice = %q", e.Advice())
	}
	_, err = f.id.PasswordOnce(t.Context(), f.app, "common", mon.UPN, mon.Password)
	wantClass(t, err, Invalid, 9001023)
}

func TestTransientAndCredentialErrors(t *testing.T) {
	f := newFixture(t)
	ten, mon := f.seed.Tenants[0], f.seed.Tenants[0].Monitors[0]
	f.sim.AddTokenFault(graphsim.TokenFault{Status: 503, Error: "temporarily_unavailable", Times: 1})
	_, err := f.id.PasswordOnce(t.Context(), f.app, ten.ID.String(), mon.UPN, mon.Password)
	wantClass(t, err, Transient, 0)
	f.sim.AddTokenFault(graphsim.TokenFault{Status: 500, Times: 1})
	_, err = f.id.AppTokenFor(t.Context(), f.app, ten.ID.String())
	wantClass(t, err, Transient, 0)

	bad := App{ClientID: f.app.ClientID, ClientSecret: "wrong"}
	_, err = f.id.AppTokenFor(t.Context(), bad, ten.ID.String())
	wantClass(t, err, AppCredential, 7000215)

	_, err = f.id.AppTokenFor(t.Context(), App{ClientID: uuid.NewString(), ClientSecret: "x"}, ten.ID.String())
	wantClass(t, err, ConsentMissing, 700016)

	// Nobody answering is transient, and says so.
	dead, _ := New(Options{LoginURL: "http://127.0.0.1:1", HTTPClient: &http.Client{Timeout: time.Second}})
	_, err = dead.AppTokenFor(context.Background(), f.app, ten.ID.String())
	if e := wantClass(t, err, Transient, 0); e.Status != 0 || !strings.Contains(e.Error(), "unreachable") {
		t.Errorf("unreachable: %v", e)
	}
	if ClassOf(errors.New("other")) != Transient {
		t.Error("ClassOf(plain error) is not Transient")
	}
}

// tokenServer answers every token request with an unsigned JWT carrying
// claims, as access token and ID token both: enough for the claim checks,
// which read tokens that came straight from the token endpoint.
func tokenServer(t *testing.T, claims map[string]any) *Client {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jwt := "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(payload) + ".sig"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": 3600,
			"access_token": jwt, "id_token": jwt, "refresh_token": "rt", "scope": "openid profile"})
	}))
	t.Cleanup(srv.Close)
	c, err := New(Options{LoginURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMalformedTenantAndObjectIDsAreRefused(t *testing.T) {
	app := App{ClientID: uuid.NewString(), ClientSecret: "s"}
	good := func() map[string]any {
		return map[string]any{"aud": app.ClientID, "tid": uuid.NewString(), "oid": uuid.NewString()}
	}
	for _, tc := range []struct {
		name, claim string
		value       any
		appToken    bool // the access token of client credentials, else the ID token of a refresh
	}{
		{"access token tid malformed", "tid", "not-a-guid", true},
		{"access token tid missing", "tid", nil, true},
		{"ID token tid malformed", "tid", "contoso.onmicrosoft.com", false},
		{"ID token oid malformed", "oid", "1234", false},
		{"ID token oid missing", "oid", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := good()
			if tc.value == nil {
				delete(cl, tc.claim)
			} else {
				cl[tc.claim] = tc.value
			}
			id := tokenServer(t, cl)
			var err error
			if tc.appToken {
				_, err = id.AppTokenFor(t.Context(), app, "organizations")
			} else {
				_, err = id.Refresh(t.Context(), app, "organizations", "rt")
			}
			e := wantClass(t, err, Invalid, 0)
			if !strings.Contains(e.Summary, tc.claim+" claim") {
				t.Errorf("error %q does not name the %s claim", e, tc.claim)
			}
		})
	}
	// The same server with well-formed claims succeeds: the refusals above
	// are the claims', not the fake server's.
	cl := good()
	if g, err := tokenServer(t, cl).Refresh(t.Context(), app, "organizations", "rt"); err != nil ||
		g.Account.TenantID.String() != cl["tid"] || g.Account.ObjectID.String() != cl["oid"] {
		t.Errorf("well-formed claims: %+v, %v", g.Account, err)
	}
	if at, err := tokenServer(t, cl).AppTokenFor(t.Context(), app, "organizations"); err != nil || at.TenantID.String() != cl["tid"] {
		t.Errorf("well-formed access token: %+v, %v", at, err)
	}
}
