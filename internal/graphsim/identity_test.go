package graphsim

import (
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// requireAADError checks that x/oauth2 surfaced the Microsoft error.
func requireAADError(t *testing.T, err error, status int, code string, aadsts int) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want *oauth2.RetrieveError", err)
	}
	if re.Response.StatusCode != status || re.ErrorCode != code {
		t.Fatalf("got %d %q (%s), want %d %q", re.Response.StatusCode, re.ErrorCode, re.ErrorDescription, status, code)
	}
	want := "AADSTS" + itoa(aadsts) + ": "
	if !strings.HasPrefix(re.ErrorDescription, want) || !strings.Contains(re.ErrorDescription, "\r\nTrace ID: ") ||
		!strings.Contains(re.ErrorDescription, "\r\nCorrelation ID: ") || !strings.Contains(re.ErrorDescription, "\r\nTimestamp: ") {
		t.Fatalf("error_description = %q, want it to start %q and carry trace, correlation and timestamp", re.ErrorDescription, want)
	}
	var body struct {
		ErrorCodes    []int  `json:"error_codes"`
		Timestamp     string `json:"timestamp"`
		TraceID       string `json:"trace_id"`
		CorrelationID string `json:"correlation_id"`
	}
	if err := jsonUnmarshal(re.Body, &body); err != nil || !slices.Equal(body.ErrorCodes, []int{aadsts}) || body.TraceID == "" || body.CorrelationID == "" || body.Timestamp == "" {
		t.Fatalf("error body %s lacks error_codes [%d], trace_id, correlation_id or timestamp", re.Body, aadsts)
	}
}

func signInMonitor(t *testing.T, f *fixture, verifier string) url.Values {
	t.Helper()
	cfg := f.oauthConfig(f.tenant().ID.String())
	authURL := cfg.AuthCodeURL("state-123", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("login_hint", f.monitor().UPN))
	q := newBrowser(t).signIn(authURL, f.monitor().UPN, f.monitor().Password)
	if q.Get("state") != "state-123" || q.Get("code") == "" {
		t.Fatalf("redirect = %v, want a code and our state", q)
	}
	return q
}

func TestAuthorizationCodeWithPKCEIssuesGraphTokens(t *testing.T) {
	f := newFixture(t)
	verifier := oauth2.GenerateVerifier()
	q := signInMonitor(t, f, verifier)
	cfg := f.oauthConfig(f.tenant().ID.String())
	tok, err := cfg.Exchange(ctx(t), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.Expiry.Before(time.Now().Add(50*time.Minute)) {
		t.Fatalf("token: type %q, refresh %q, expiry %v", tok.TokenType, tok.RefreshToken, tok.Expiry)
	}
	if ext, _ := tok.Extra("ext_expires_in").(float64); ext < 3000 {
		t.Errorf("ext_expires_in = %v", tok.Extra("ext_expires_in"))
	}
	scope, _ := tok.Extra("scope").(string)
	if !strings.Contains(scope, "https://graph.microsoft.com/Presence.Read.All") || !strings.Contains(scope, "offline_access") {
		t.Errorf("scope = %q", scope)
	}

	keys := fetchKeys(t, f.srv.URL+"/"+f.tenant().ID.String()+"/discovery/v2.0/keys")
	// The ID token: v2, for our client, issued by the tenant, naming the monitor.
	idt, _ := tok.Extra("id_token").(string)
	claims := parse(t, idt, keys, f.seed.App.ClientID)
	wantIss := f.srv.URL + "/" + f.tenant().ID.String() + "/v2.0"
	if claims["iss"] != wantIss || claims["tid"] != f.tenant().ID.String() || claims["oid"] != f.monitor().ID.String() ||
		claims["preferred_username"] != f.monitor().UPN || claims["ver"] != "2.0" {
		t.Fatalf("id token claims %v", claims)
	}
	// The access token: a v1 Graph token with the delegated scopes.
	at := parse(t, tok.AccessToken, keys, "https://graph.microsoft.com")
	if at["iss"] != "https://sts.windows.net/"+f.tenant().ID.String()+"/" || at["appid"] != f.seed.App.ClientID ||
		at["scp"] != "Presence.Read.All User.ReadBasic.All" || at["upn"] != f.monitor().UPN || at["oid"] != f.monitor().ID.String() {
		t.Fatalf("access token claims %v", at)
	}
	// Graph handlers authenticate it.
	req, _ := http.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	p, err := f.sim.Authenticate(req)
	if err != nil || !p.Delegated() || p.UserID != f.monitor().ID || !p.Has("Presence.Read.All") || p.Has("User.Read.All") {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
}

func TestAuthorizationCodeErrors(t *testing.T) {
	f := newFixture(t)
	tid := f.tenant().ID.String()
	t.Run("bad PKCE verifier", func(t *testing.T) {
		q := signInMonitor(t, f, oauth2.GenerateVerifier())
		_, err := f.oauthConfig(tid).Exchange(ctx(t), q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
		requireAADError(t, err, 400, "invalid_grant", 501481)
	})
	t.Run("code reused", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		q := signInMonitor(t, f, v)
		if _, err := f.oauthConfig(tid).Exchange(ctx(t), q.Get("code"), oauth2.VerifierOption(v)); err != nil {
			t.Fatal(err)
		}
		_, err := f.oauthConfig(tid).Exchange(ctx(t), q.Get("code"), oauth2.VerifierOption(v))
		requireAADError(t, err, 400, "invalid_grant", 54005)
	})
	t.Run("wrong redirect_uri", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		q := signInMonitor(t, f, v)
		cfg := f.oauthConfig(tid)
		cfg.RedirectURL = "https://bridge.example.com/other"
		_, err := cfg.Exchange(ctx(t), q.Get("code"), oauth2.VerifierOption(v))
		requireAADError(t, err, 400, "invalid_grant", 70000)
	})
	t.Run("code expired", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		q := signInMonitor(t, f, v)
		f.advance(11 * time.Minute)
		_, err := f.oauthConfig(tid).Exchange(ctx(t), q.Get("code"), oauth2.VerifierOption(v))
		requireAADError(t, err, 400, "invalid_grant", 70008)
	})
	t.Run("wrong client secret", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		q := signInMonitor(t, f, v)
		cfg := f.oauthConfig(tid)
		cfg.ClientSecret = "nope"
		_, err := cfg.Exchange(ctx(t), q.Get("code"), oauth2.VerifierOption(v))
		requireAADError(t, err, 401, "invalid_client", 7000215)
	})
}

func TestRefreshTokensRotateAndDieAsDocumented(t *testing.T) {
	f := newFixture(t)
	tid := f.tenant().ID.String()
	v := oauth2.GenerateVerifier()
	q := signInMonitor(t, f, v)
	cfg := f.oauthConfig(tid)
	first, err := cfg.Exchange(ctx(t), q.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	refresh := func(rt string) (*oauth2.Token, error) {
		return cfg.TokenSource(ctx(t), &oauth2.Token{RefreshToken: rt}).Token()
	}
	second, err := refresh(first.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Fatal("refresh did not rotate the refresh token")
	}
	if _, err := refresh(first.RefreshToken); err != nil {
		t.Fatalf("the old refresh token is not revoked by use (A2.5), got %v", err)
	}

	t.Run("expired by inactivity", func(t *testing.T) {
		f.advance(91 * 24 * time.Hour)
		_, err := refresh(second.RefreshToken)
		requireAADError(t, err, 400, "invalid_grant", 700082)
		f.advance(-91 * 24 * time.Hour)
	})
	t.Run("revoked", func(t *testing.T) {
		f.advance(time.Second)
		if !f.sim.RevokeUser(f.monitor().ID) {
			t.Fatal("RevokeUser")
		}
		_, err := refresh(second.RefreshToken)
		requireAADError(t, err, 400, "invalid_grant", 50173)
	})
	t.Run("garbage", func(t *testing.T) {
		_, err := refresh("not-a-token")
		requireAADError(t, err, 400, "invalid_grant", 9002313)
	})
}

func TestPasswordGrant(t *testing.T) {
	f := newFixture(t)
	tid := f.tenant().ID.String()
	cfg := f.oauthConfig(tid)
	m := f.monitor()
	tok, err := cfg.PasswordCredentialsToken(ctx(t), m.UPN, m.Password)
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("ROPC: %v (token %+v)", err, tok)
	}
	_, err = cfg.PasswordCredentialsToken(ctx(t), m.UPN, "wrong")
	requireAADError(t, err, 400, "invalid_grant", 50126)
	_, err = cfg.PasswordCredentialsToken(ctx(t), "nobody@"+f.tenant().Domain, "x")
	requireAADError(t, err, 400, "invalid_grant", 50034)

	patchUser(t, f, m.ID.String(), `{"mfaRequired": true}`)
	_, err = cfg.PasswordCredentialsToken(ctx(t), m.UPN, m.Password)
	requireAADError(t, err, 400, "invalid_grant", 50076)

	_, err = f.oauthConfig("common").PasswordCredentialsToken(ctx(t), m.UPN, m.Password)
	requireAADError(t, err, 400, "invalid_request", 9001023)
}

func TestClientCredentials(t *testing.T) {
	f := newFixture(t)
	cc := func(tenant, secret string) *clientcredentials.Config {
		return &clientcredentials.Config{ClientID: f.seed.App.ClientID, ClientSecret: secret, TokenURL: f.tokenURL(tenant),
			Scopes: []string{"https://graph.microsoft.com/.default"}}
	}
	tok, err := cc(f.tenant().ID.String(), f.seed.App.ClientSecret).Token(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken != "" {
		t.Error("client credentials must never return a refresh token (A4)")
	}
	at := parse(t, tok.AccessToken, fetchKeys(t, f.srv.URL+"/common/discovery/v2.0/keys"), "https://graph.microsoft.com")
	roles, _ := at["roles"].([]any)
	if at["tid"] != f.tenant().ID.String() || len(roles) != len(DefaultApplication) || at["idtyp"] != "app" {
		t.Fatalf("app token claims %v", at)
	}

	// The domain works as the tenant segment too.
	if _, err := cc(f.tenant().Domain, f.seed.App.ClientSecret).Token(ctx(t)); err != nil {
		t.Fatalf("by domain: %v", err)
	}
	_, err = cc(f.seed.Tenants[1].ID.String(), f.seed.App.ClientSecret).Token(ctx(t))
	requireAADError(t, err, 401, "invalid_client", 7000229) // no consent in that tenant
	_, err = cc(f.tenant().ID.String(), "wrong").Token(ctx(t))
	requireAADError(t, err, 401, "invalid_client", 7000215)
	_, err = cc("11111111-2222-3333-4444-555555555555", f.seed.App.ClientSecret).Token(ctx(t))
	requireAADError(t, err, 400, "invalid_request", 90002)
	bad := cc(f.tenant().ID.String(), f.seed.App.ClientSecret)
	bad.Scopes = []string{"Presence.Read.All"}
	_, err = bad.Token(ctx(t))
	requireAADError(t, err, 400, "invalid_scope", 1002012)

	resp, err := http.Post(f.srv.URL+"/_sim/apps/"+f.seed.App.ClientID+"/expire-secrets", "application/json", nil)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("expire secrets: %v %v", resp, err)
	}
	_, err = cc(f.tenant().ID.String(), f.seed.App.ClientSecret).Token(ctx(t))
	requireAADError(t, err, 401, "invalid_client", 7000222)
}

func TestAdminConsent(t *testing.T) {
	f := newFixture(t)
	fresh := f.seed.Tenants[1] // not consented
	consentURL := func(tenant string) string {
		return f.srv.URL + "/" + tenant + "/v2.0/adminconsent?" + url.Values{"client_id": {f.seed.App.ClientID},
			"scope": {"https://graph.microsoft.com/.default"}, "redirect_uri": {redirectURI}, "state": {"st-9"}}.Encode()
	}
	post := func(b *browser, tenant, login, password, action string) (url.Values, string) {
		status, body, req := b.open(consentURL(tenant))
		if status != 200 || !strings.Contains(body, "Presence.Read.All (application)") {
			t.Fatalf("consent page %d:\n%s", status, body)
		}
		return b.post(f.srv.URL+"/"+tenant+"/v2.0/adminconsent", url.Values{"req": {req}, "login": {login}, "password": {password}, "action": {action}})
	}

	q, _ := post(newBrowser(t), "organizations", fresh.Admin.UPN, fresh.Admin.Password, "cancel")
	if q.Get("admin_consent") != "True" || q.Get("error") != "consent_required" || !strings.HasPrefix(q.Get("error_description"), "AADSTS65004:") || q.Get("state") != "st-9" {
		t.Fatalf("declined consent redirect: %v", q)
	}
	q, body := post(newBrowser(t), fresh.ID.String(), fresh.Users[0].UPN, fresh.Users[0].Password, "signin")
	if q != nil || !strings.Contains(body, "AADSTS90094") {
		t.Fatalf("a non-admin got %v / %s", q, body)
	}
	q, _ = post(newBrowser(t), "organizations", fresh.Admin.UPN, fresh.Admin.Password, "signin")
	if q.Get("admin_consent") != "True" || q.Get("tenant") != fresh.ID.String() || q.Get("state") != "st-9" ||
		!strings.Contains(q.Get("scope"), "https://graph.microsoft.com/Presence.Read.All") || q.Get("error") != "" {
		t.Fatalf("consent redirect: %v", q)
	}
	// Consent is real: an app-only token for that tenant now works.
	cc := &clientcredentials.Config{ClientID: f.seed.App.ClientID, ClientSecret: f.seed.App.ClientSecret,
		TokenURL: f.tokenURL(fresh.ID.String()), Scopes: []string{"https://graph.microsoft.com/.default"}}
	if _, err := cc.Token(ctx(t)); err != nil {
		t.Fatalf("client credentials after consent: %v", err)
	}
}

func TestAuthorizePageErrorsNeverRedirectToUnknownURIs(t *testing.T) {
	f := newFixture(t)
	tid := f.tenant().ID.String()
	b := newBrowser(t)
	base := f.srv.URL + "/" + tid + "/oauth2/v2.0/authorize?"
	for name, c := range map[string]struct {
		q    url.Values
		want string
	}{
		"unknown client":        {url.Values{"client_id": {"00000000-0000-0000-0000-000000000001"}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "scope": {"openid"}}, "AADSTS700016"},
		"unregistered redirect": {url.Values{"client_id": {f.seed.App.ClientID}, "redirect_uri": {"https://evil.example/cb"}, "response_type": {"code"}, "scope": {"openid"}}, "AADSTS50011"},
	} {
		status, body, _ := b.open(base + c.q.Encode())
		if status != 400 || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d, page lacks %s", name, status, c.want)
		}
	}
	cfg := f.oauthConfig(tid)
	resp, err := b.client.Get(cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none")))
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || loc.Query().Get("error") != "login_required" || loc.Query().Get("state") != "s" {
		t.Fatalf("prompt=none: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestMonitorSignInWithMFAAndWithoutConsent(t *testing.T) {
	f := newFixture(t)
	m := f.monitor()
	patchUser(t, f, m.ID.String(), `{"mfaRequired": true}`)
	b := newBrowser(t)
	v := oauth2.GenerateVerifier()
	authURL := f.oauthConfig(f.tenant().ID.String()).AuthCodeURL("s", oauth2.S256ChallengeOption(v))
	_, _, req := b.open(authURL)
	page := f.srv.URL + "/" + f.tenant().ID.String() + "/oauth2/v2.0/authorize"
	q, body := b.post(page, url.Values{"req": {req}, "login": {m.UPN}, "password": {m.Password}, "action": {"signin"}})
	if q != nil || !strings.Contains(body, "Approve sign in request") {
		t.Fatalf("MFA user was not asked to approve: %v\n%s", q, body)
	}
	q, _ = b.post(page, url.Values{"req": {req}, "action": {"mfa"}})
	if q.Get("code") == "" {
		t.Fatalf("after MFA approval: %v", q)
	}

	other := f.seed.Tenants[1] // no admin consent there
	authURL = f.oauthConfig(other.ID.String()).AuthCodeURL("s", oauth2.S256ChallengeOption(v))
	_, _, req = b.open(authURL)
	q, body = b.post(f.srv.URL+"/"+other.ID.String()+"/oauth2/v2.0/authorize",
		url.Values{"req": {req}, "login": {other.Monitors[0].UPN}, "password": {other.Monitors[0].Password}, "action": {"signin"}})
	if q != nil || !strings.Contains(body, "AADSTS65001") {
		t.Fatalf("sign-in without consent: %v\n%s", q, body)
	}
	_, body = b.post(page, url.Values{"req": {"unknown"}, "action": {"signin"}})
	if !strings.Contains(body, "AADSTS90014") {
		t.Fatalf("unknown sign-in session: %s", body)
	}
	b2 := newBrowser(t)
	_, _, req = b2.open(f.oauthConfig(f.tenant().ID.String()).AuthCodeURL("s"))
	_, body = b2.post(page, url.Values{"req": {req}, "login": {f.seed.Tenants[0].Users[0].UPN}, "password": {"wrong"}, "action": {"signin"}})
	if !strings.Contains(body, "AADSTS50126") {
		t.Fatalf("bad password page: %s", body)
	}
}

func TestTokenFaults(t *testing.T) {
	f := newFixture(t)
	m := f.monitor()
	cfg := f.oauthConfig(f.tenant().ID.String())
	tok, err := cfg.PasswordCredentialsToken(ctx(t), m.UPN, m.Password)
	if err != nil {
		t.Fatal(err)
	}
	refresh := func() error {
		_, err := cfg.TokenSource(ctx(t), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		return err
	}
	fault := f.sim.AddTokenFault(TokenFault{User: m.UPN, Grant: "refresh_token", Error: "invalid_grant", Code: 50173, Message: "revoked", Times: 1})
	requireAADError(t, refresh(), 400, "invalid_grant", 50173)
	if err := refresh(); err != nil {
		t.Fatalf("a Times=1 fault hit twice: %v", err)
	}
	f.sim.AddTokenFault(TokenFault{ClientID: f.seed.App.ClientID, Status: 503})
	requireAADError(t, refresh(), 503, "temporarily_unavailable", 50000)
	for _, x := range f.sim.faults.list() {
		f.sim.faults.remove(x.ID)
	}
	if err := refresh(); err != nil {
		t.Fatalf("after removing faults: %v", err)
	}
	_ = fault
}

func TestDiscoveryDocument(t *testing.T) {
	f := newFixture(t)
	for seg, wantIssuer := range map[string]string{
		f.tenant().ID.String(): f.srv.URL + "/" + f.tenant().ID.String() + "/v2.0",
		f.tenant().Domain:      f.srv.URL + "/" + f.tenant().ID.String() + "/v2.0",
		"organizations":        f.srv.URL + "/{tenantid}/v2.0",
	} {
		resp, err := http.Get(f.srv.URL + "/" + seg + "/v2.0/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		decodeJSON(t, resp.Body, &doc)
		resp.Body.Close()
		if doc["issuer"] != wantIssuer || doc["token_endpoint"] != f.srv.URL+"/"+seg+"/oauth2/v2.0/token" {
			t.Errorf("%s: issuer %v token_endpoint %v", seg, doc["issuer"], doc["token_endpoint"])
		}
	}
}

func patchUser(t *testing.T, f *fixture, id, body string) {
	t.Helper()
	req, _ := http.NewRequest("PATCH", f.srv.URL+"/_sim/users/"+id, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("patch user: %v %v", resp, err)
	}
}

// fetchKeys reads a JWKS over HTTP, as a relying party would.
func fetchKeys(t *testing.T, u string) map[string]*rsa.PublicKey {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kid, Kty, N, E, X5t string } `json:"keys"`
	}
	decodeJSON(t, resp.Body, &set)
	out := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		n, _ := base64.RawURLEncoding.DecodeString(k.N)
		e, _ := base64.RawURLEncoding.DecodeString(k.E)
		out[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	if len(out) == 0 {
		t.Fatal("empty JWKS")
	}
	return out
}

func parse(t *testing.T, raw string, keys map[string]*rsa.PublicKey, aud string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(tok *jwt.Token) (any, error) {
		k := keys[str(tok.Header["kid"])]
		if k == nil {
			return nil, errors.New("unknown kid")
		}
		return k, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(aud), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("token does not validate against the JWKS: %v", err)
	}
	return claims
}

func TestTokenCallsAreCounted(t *testing.T) {
	f := newFixture(t)
	ten, mon := f.tenant(), f.monitor()
	cfg := f.oauthConfig(ten.ID.String())
	tok, err := cfg.PasswordCredentialsToken(ctx(t), mon.UPN, mon.Password)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if tok, err = cfg.TokenSource(ctx(t), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
			t.Fatal(err)
		}
	}
	f.appToken(ten)
	client := f.seed.App.ClientID
	for _, c := range []struct {
		filter TokenCalls
		want   int
	}{
		{TokenCalls{ClientID: client}, 5},
		{TokenCalls{ClientID: client, Grant: "refresh_token"}, 3},
		{TokenCalls{Grant: "refresh_token", User: mon.UPN}, 3},
		{TokenCalls{User: strings.ToUpper(mon.UPN)}, 4},
		{TokenCalls{User: ten.Users[0].UPN}, 0},
		{TokenCalls{Grant: "client_credentials"}, 1},
	} {
		if got := f.sim.CountTokenCalls(c.filter); got != c.want {
			t.Errorf("CountTokenCalls(%+v) = %d, want %d", c.filter, got, c.want)
		}
	}
	var body struct{ Count int }
	res := f.call("", "GET", "/_sim/token-calls?grant=refresh_token&user="+url.QueryEscape(mon.UPN), nil)
	res.json(t, &body)
	if res.status != 200 || body.Count != 3 {
		t.Errorf("GET /_sim/token-calls: %d %s", res.status, res.body)
	}
}
