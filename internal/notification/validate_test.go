package notification

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

const (
	ourApp = "11111111-2222-3333-4444-555555555555"
	tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
)

// identityKeys serves a JWKS like login.microsoftonline.com/common.
func identityKeys(t testing.TB) (*rsa.PrivateKey, string) {
	t.Helper()
	return identityKeysBits(t, 2048)
}

// identityKeysBits is identityKeys with a key of that many bits
// (FuzzValidationTokens signs with 512, a sixth of 2048's time).
func identityKeysBits(t testing.TB, bits int) (*rsa.PrivateKey, string) {
	t.Helper()
	key, _ := rsa.GenerateKey(rand.Reader, bits)
	jwks := map[string]any{"keys": []map[string]any{{
		"kty": "RSA", "use": "sig", "kid": "k1", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/common/discovery/v2.0/keys" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(jwks)
	}))
	t.Cleanup(srv.Close)
	return key, srv.URL
}

func token(t testing.TB, key *rsa.PrivateKey, kid string, edit func(jwt.MapClaims)) string {
	t.Helper()
	now := time.Now()
	c := jwt.MapClaims{"aud": ourApp, "iss": "https://sts.windows.net/" + tenant + "/", "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(8 * time.Hour).Unix(), "appid": ChangeTrackingAppID, "appidacr": "2", "tid": tenant, "ver": "1.0"}
	if edit != nil {
		edit(c)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestValidationTokens(t *testing.T) {
	key, login := identityKeys(t)
	v, err := NewValidator(t.Context(), ValidatorOptions{LoginURL: login, Audiences: []string{ourApp}})
	if err != nil {
		t.Fatal(err)
	}
	ours := []Expect{{TenantID: tenant, Rich: true}}
	good := token(t, key, "k1", nil)
	if err := v.Check([]string{good}, ours); err != nil {
		t.Fatalf("valid v1 token: %v", err)
	}
	v2 := token(t, key, "k1", func(c jwt.MapClaims) {
		c["ver"], c["azp"], c["iss"] = "2.0", ChangeTrackingAppID, login+"/"+tenant+"/v2.0"
		delete(c, "appid")
	})
	if err := v.Check([]string{v2, good}, ours); err != nil {
		t.Fatalf("valid v2 token: %v", err)
	}
	forger, _ := rsa.GenerateKey(rand.Reader, 2048)
	for name, tok := range map[string]string{
		"wrong audience":   token(t, key, "k1", func(c jwt.MapClaims) { c["aud"] = "someone-else" }),
		"expired":          token(t, key, "k1", func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() }),
		"not from Graph":   token(t, key, "k1", func(c jwt.MapClaims) { c["appid"] = ourApp }),
		"v2 without azp":   token(t, key, "k1", func(c jwt.MapClaims) { c["ver"] = "2.0" }),
		"other tenant":     token(t, key, "k1", func(c jwt.MapClaims) { c["tid"] = "other" }),
		"foreign issuer":   token(t, key, "k1", func(c jwt.MapClaims) { c["iss"] = "https://evil.example/" + tenant + "/" }),
		"forged signature": token(t, forger, "k1", nil),
		"unknown key":      token(t, key, "k9", nil),
		"not a JWT":        "eyJhbGciOi.nope",
	} {
		err := v.Check([]string{good, tok}, ours)
		if !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v, want ErrInvalidToken", name, err)
		}
	}
	if err := v.Check(nil, ours); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("no tokens: %v", err)
	}
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"aud": ourApp})
	s, _ := hs.SignedString([]byte("k"))
	if err := v.Check([]string{s}, ours); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("HS256 token: %v", err)
	}
}

// TestATokenVouchesOnlyForTheTenantsOfTheAppItNames: a tenant on its own
// app registration gets tokens whose audience is that app (Graph: the app
// that made the subscription). Such a token passes for that tenant only;
// our app's token passes for our tenants only; and every tenant with rich
// items needs its own token — one for another tenant's app does not do.
func TestATokenVouchesOnlyForTheTenantsOfTheAppItNames(t *testing.T) {
	key, login := identityKeys(t)
	v, err := NewValidator(t.Context(), ValidatorOptions{LoginURL: login, Audiences: []string{ourApp}})
	if err != nil {
		t.Fatal(err)
	}
	const ownApp, otherTenant = "99999999-8888-7777-6666-555555555555", "0d2a6e7c-3c1a-4a3e-9a55-1f6b2d7e8c90"
	tokenFor := func(tid, app string) string {
		return token(t, key, "k1", func(c jwt.MapClaims) { c["tid"], c["aud"], c["iss"] = tid, app, "https://sts.windows.net/"+tid+"/" })
	}
	ours, own := tokenFor(tenant, ourApp), tokenFor(otherTenant, ownApp)
	onOurApp, onOwnApp := Expect{TenantID: tenant, Rich: true}, Expect{TenantID: otherTenant, AppID: ownApp, Rich: true}
	for _, c := range []struct {
		name   string
		tokens []string
		expect []Expect
		ok     bool
	}{
		{"our app's token for our tenant", []string{ours}, []Expect{onOurApp}, true},
		{"the own app's token for its tenant", []string{own}, []Expect{onOwnApp}, true},
		{"each tenant's token in a mixed POST", []string{own, ours}, []Expect{onOurApp, onOwnApp}, true},
		{"a tenant without rich items may lack its token", []string{ours}, []Expect{onOurApp, {TenantID: otherTenant, AppID: ownApp}}, true},
		{"our app's token for the own-app tenant", []string{tokenFor(otherTenant, ourApp)}, []Expect{onOwnApp}, false},
		{"the own app's token for our tenant", []string{tokenFor(tenant, ownApp)}, []Expect{onOurApp}, false},
		{"a mixed POST with our tenant's token only", []string{ours}, []Expect{onOurApp, onOwnApp}, false},
		{"a mixed POST with the own-app tenant's token only", []string{own}, []Expect{onOurApp, onOwnApp}, false},
		{"a mixed POST whose second token is for the wrong app", []string{ours, tokenFor(otherTenant, ourApp)}, []Expect{onOurApp, onOwnApp}, false},
		{"a token for a tenant the POST does not name", []string{ours, own}, []Expect{onOurApp}, false},
	} {
		err := v.Check(c.tokens, c.expect)
		if c.ok && err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if !c.ok && !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v, want ErrInvalidToken", c.name, err)
		}
	}
}

func TestValidatorWithoutKeysSaysUnavailableNotInvalid(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) }))
	defer down.Close()
	v, err := NewValidator(t.Context(), ValidatorOptions{LoginURL: down.URL, Audiences: []string{ourApp}})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	if err := v.Check([]string{token(t, key, "k1", nil)}, []Expect{{TenantID: tenant, Rich: true}}); !errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrInvalidToken) {
		t.Errorf("keys unreachable: %v, want ErrKeysUnavailable", err)
	}
}

// countingKeys counts the signature checks a Validator makes; the rest of
// the key set is the real one's.
type countingKeys struct {
	keySet
	checks *atomic.Int32
}

// keySet names the embedded key set apart from its Keyfunc method.
type keySet = keyfunc.Keyfunc

func (k countingKeys) Keyfunc(t *jwt.Token) (any, error) {
	k.checks.Add(1)
	return k.keySet.Keyfunc(t)
}

func TestATokenVerifiedOnceIsTrustedFromMemoryUntilItExpires(t *testing.T) {
	key, login := identityKeys(t)
	now := time.Now()
	v, err := NewValidator(t.Context(), ValidatorOptions{LoginURL: login, Audiences: []string{ourApp}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var checks atomic.Int32
	v.keys = countingKeys{v.keys, &checks}
	ours := []Expect{{TenantID: tenant, Rich: true}}
	good := token(t, key, "k1", func(c jwt.MapClaims) { c["exp"] = now.Add(time.Hour).Unix() })
	for range 3 {
		if err := v.Check([]string{good}, ours); err != nil {
			t.Fatal(err)
		}
	}
	if n := checks.Load(); n != 1 {
		t.Fatalf("the same token's signature checked %d times, want once", n)
	}
	// What the token vouches for is still judged each time.
	other := []Expect{{TenantID: "f0f0f0f0-0000-0000-0000-000000000000", Rich: true}}
	if err := v.Check([]string{good}, other); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a remembered token vouched for another tenant: %v", err)
	}
	// Within the leeway it stands; past it, it is refused, not remembered.
	now = now.Add(time.Hour + 4*time.Minute)
	if err := v.Check([]string{good}, ours); err != nil {
		t.Fatalf("within the leeway: %v", err)
	}
	now = now.Add(2 * time.Minute)
	if err := v.Check([]string{good}, ours); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("expired past the leeway: %v", err)
	}
	// A token that failed is never remembered as good.
	bad := token(t, key, "k1", func(c jwt.MapClaims) { c["appid"] = ourApp })
	for range 2 {
		if err := v.Check([]string{bad}, ours); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("a refused token: %v", err)
		}
	}
}
