package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"presencebridge/internal/graphsim"
)

// issuerPlatform is an identity platform of our own making: the
// multi-tenant discovery document and a key set with one key, so tests can
// sign ID tokens any way they like.
type issuerPlatform struct {
	srv   *httptest.Server
	key   *rsa.PrivateKey
	kid   string
	id    *Client
	app   App
	now   time.Time
	tid   uuid.UUID
	nonce string
}

func newIssuerPlatform(t *testing.T) *issuerPlatform {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &issuerPlatform{key: key, kid: "k1", app: App{ClientID: uuid.NewString()}, now: time.Now(),
		tid: uuid.New(), nonce: "n-" + uuid.NewString()}
	mux := http.NewServeMux()
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	mux.HandleFunc("GET /organizations/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeTestJSON(w, map[string]any{"issuer": p.srv.URL + "/{tenantid}/v2.0", "jwks_uri": p.srv.URL + "/organizations/discovery/v2.0/keys"})
	})
	mux.HandleFunc("GET /organizations/discovery/v2.0/keys", func(w http.ResponseWriter, r *http.Request) {
		writeTestJSON(w, map[string]any{"keys": []map[string]any{{"kty": "RSA", "use": "sig", "kid": p.kid, "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes())}}})
	})
	if p.id, err = New(Options{LoginURL: p.srv.URL, Now: func() time.Time { return p.now }}); err != nil {
		t.Fatal(err)
	}
	return p
}

// claims are a good ID token's, for the test to spoil.
func (p *issuerPlatform) claims() jwt.MapClaims {
	return jwt.MapClaims{"aud": p.app.ClientID, "iss": p.srv.URL + "/" + p.tid.String() + "/v2.0", "tid": p.tid.String(),
		"oid": uuid.NewString(), "preferred_username": "ann@contoso.example", "name": "Ann Lee", "nonce": p.nonce,
		"iat": p.now.Add(-time.Minute).Unix(), "nbf": p.now.Add(-time.Minute).Unix(), "exp": p.now.Add(time.Hour).Unix(), "ver": "2.0"}
}

func (p *issuerPlatform) sign(t *testing.T, c jwt.MapClaims, key *rsa.PrivateKey) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = p.kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestIDTokenVerificationRefusesEveryFlawAndAcceptsAGoodToken(t *testing.T) {
	p := newIssuerPlatform(t)
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	cases := []struct {
		name  string
		spoil func(jwt.MapClaims)
		key   *rsa.PrivateKey
		nonce string
		want  string
	}{
		{"another application's token", func(c jwt.MapClaims) { c["aud"] = uuid.NewString() }, nil, "", "audience"},
		{"another sign-in's nonce", func(c jwt.MapClaims) { c["nonce"] = "n-other" }, nil, "", "nonce"},
		{"no nonce expected", nil, nil, "-", "nonce"},
		{"an issuer of another tenant than its tid", func(c jwt.MapClaims) { c["iss"] = p.srv.URL + "/" + uuid.NewString() + "/v2.0" }, nil, "", "issuer"},
		{"the issuer template itself", func(c jwt.MapClaims) { c["iss"] = p.srv.URL + "/{tenantid}/v2.0" }, nil, "", "issuer"},
		{"expired", func(c jwt.MapClaims) { c["exp"] = p.now.Add(-idTokenLeeway - time.Minute).Unix() }, nil, "", "expired"},
		{"no expiry", func(c jwt.MapClaims) { delete(c, "exp") }, nil, "", "exp"},
		{"signed by another key", nil, otherKey, "", "signature"},
		{"a tid that is no GUID", func(c jwt.MapClaims) { c["tid"] = "contoso" }, nil, "", "GUID"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := p.claims()
			if tc.spoil != nil {
				tc.spoil(c)
			}
			key := p.key
			if tc.key != nil {
				key = tc.key
			}
			nonce := p.nonce
			if tc.nonce == "-" {
				nonce = ""
			}
			_, err := p.id.VerifyIDToken(t.Context(), p.app, p.sign(t, c, key), nonce)
			if err == nil || !strings.Contains(err.Error(), tc.want) || ClassOf(err) != Invalid {
				t.Fatalf("err = %v, want an Invalid refusal naming %q", err, tc.want)
			}
		})
	}
	t.Run("a good token", func(t *testing.T) {
		c := p.claims()
		c["wids"] = []string{RolePrivilegedRoleAdministrator}
		c["auth_time"] = p.now.Add(-3 * time.Minute).Unix()
		id, err := p.id.VerifyIDToken(t.Context(), p.app, p.sign(t, c, p.key), p.nonce)
		if err != nil {
			t.Fatal(err)
		}
		if id.TenantID != p.tid || id.ObjectID.String() != c["oid"] || id.Username != "ann@contoso.example" || id.Name != "Ann Lee" {
			t.Errorf("identity = %+v", id)
		}
		if !id.AuthTime.Equal(time.Unix(c["auth_time"].(int64), 0)) || !id.CanGrantConsent() {
			t.Errorf("auth time %v (want auth_time), can consent %v (want true, a Privileged Role Administrator)", id.AuthTime, id.CanGrantConsent())
		}
	})
}

func TestOnlyGlobalAndPrivilegedRoleAdministratorsMayGrantConsent(t *testing.T) {
	for _, tc := range []struct {
		wids []string
		want bool
	}{
		{nil, false},
		{[]string{RoleGlobalAdministrator}, true},
		{[]string{strings.ToUpper(RolePrivilegedRoleAdministrator)}, true},
		{[]string{RoleCloudApplicationAdministrator, RoleApplicationAdministrator}, false}, // not for Graph app roles
		{[]string{"b79fbf4d-3ef9-4689-8143-76b194e85509"}, false},
	} {
		if got := (Identity{DirectoryRoles: tc.wids}).CanGrantConsent(); got != tc.want {
			t.Errorf("wids %v: CanGrantConsent = %v, want %v", tc.wids, got, tc.want)
		}
	}
}

// signInThroughGraphsim signs who in through graphsim's real pages with
// PersonSignIn's URL and returns the identity.
func signInThroughGraphsim(t *testing.T, f *fixture, who graphsim.SeedUser, o SignInOptions) (Identity, url.Values) {
	t.Helper()
	si := f.id.PersonSignIn(f.app, monitorCallback, "st-1", o)
	q, err := graphsim.NewPerson().SignIn(context.Background(), si.URL, who.UPN, who.Password)
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	id, err := f.id.FinishPersonSignIn(t.Context(), f.app, monitorCallback, q.Get("code"), si)
	if err != nil {
		t.Fatalf("finish sign-in: %v", err)
	}
	return id, q
}

func TestAPersonSignsInAtTheMultiTenantAuthorityAndAnAdministratorIsKnownByWids(t *testing.T) {
	f := newFixture(t)
	ten := f.seed.Tenants[1] // not consented: signing in asks nothing of the tenant
	si := f.id.PersonSignIn(f.app, monitorCallback, "st-1", SignInOptions{Fresh: true, MaxAge: 10 * time.Minute})
	u, _ := url.Parse(si.URL)
	q := u.Query()
	if !strings.HasPrefix(u.Path, "/organizations/") || q.Get("prompt") != "login" || q.Get("max_age") != "600" ||
		q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("scope") != "openid profile" {
		t.Errorf("sign-in URL = %s", si.URL)
	}
	before := time.Now().Add(-time.Second)
	admin, _ := signInThroughGraphsim(t, f, ten.Admin, SignInOptions{MaxAge: time.Minute})
	if admin.TenantID != ten.ID || admin.ObjectID != ten.Admin.ID || admin.Username != ten.Admin.UPN || !admin.CanGrantConsent() {
		t.Errorf("admin = %+v, want tenant %s, object %s and consent rights", admin, ten.ID, ten.Admin.ID)
	}
	if admin.AuthTime.Before(before.Truncate(time.Second)) {
		t.Errorf("auth time %v is older than the sign-in (%v)", admin.AuthTime, before)
	}
	user, _ := signInThroughGraphsim(t, f, ten.Users[0], SignInOptions{})
	if user.CanGrantConsent() || user.ObjectID != ten.Users[0].ID {
		t.Errorf("an ordinary user = %+v, may grant consent %v", user, user.CanGrantConsent())
	}
	if err := f.sim.SetUserRoles(ten.Users[0].ID, []string{graphsim.RolePrivilegedRoleAdministrator}); err != nil {
		t.Fatal(err)
	}
	if promoted, _ := signInThroughGraphsim(t, f, ten.Users[0], SignInOptions{}); !promoted.CanGrantConsent() {
		t.Errorf("a Privileged Role Administrator may not grant consent: %+v", promoted)
	}
}

// SignInOptions.Tenant: the sign-in and the code's redemption go to that
// organization's authority, whose ID token verifies as any other; an
// account of another organization is turned away there.
func TestAPersonSignsInAtTheirOwnOrganizationsAuthorityAndNoOtherOrganizationsAccount(t *testing.T) {
	f := newFixture(t)
	ten, other := f.seed.Tenants[0], f.seed.Tenants[1]
	o := SignInOptions{Tenant: ten.Domain}
	si := f.id.PersonSignIn(f.app, monitorCallback, "st-1", o)
	if u, _ := url.Parse(si.URL); !strings.HasPrefix(u.Path, "/"+ten.Domain+"/oauth2/v2.0/authorize") || si.Tenant != ten.Domain {
		t.Errorf("sign-in URL = %s (tenant %q), want %s's authority", si.URL, si.Tenant, ten.Domain)
	}
	who, _ := signInThroughGraphsim(t, f, ten.Users[0], o)
	if who.TenantID != ten.ID || who.Username != ten.Users[0].UPN {
		t.Errorf("signed in as %+v, want %s of %s", who, ten.Users[0].UPN, ten.ID)
	}
	si = f.id.PersonSignIn(f.app, monitorCallback, "st-2", o)
	_, err := graphsim.NewPerson().SignIn(t.Context(), si.URL, other.Users[0].UPN, other.Users[0].Password)
	if pe, ok := errors.AsType[*graphsim.PageError](err); !ok || !strings.Contains(pe.Message, "AADSTS50020") {
		t.Errorf("an account of %s signing in at %s's authority: %v, want AADSTS50020 on the page", other.Domain, ten.Domain, err)
	}
}

func TestTenantIDOfResolvesADomainThroughItsOpenIDConfiguration(t *testing.T) {
	f := newFixture(t)
	ten := f.seed.Tenants[0]
	if id, err := f.id.TenantIDOf(t.Context(), ten.Domain); err != nil || id != ten.ID {
		t.Errorf("TenantIDOf(%s) = %v, %v; want %s", ten.Domain, id, err, ten.ID)
	}
	if _, err := f.id.TenantIDOf(t.Context(), "nowhere.example"); err != ErrUnknownTenant {
		t.Errorf("an unknown domain: %v", err)
	}
}

func writeTestJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
