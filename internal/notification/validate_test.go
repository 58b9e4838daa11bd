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
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	ourApp = "11111111-2222-3333-4444-555555555555"
	tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
)

// identityKeys serves a JWKS like login.microsoftonline.com/common.
func identityKeys(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
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

func token(t *testing.T, key *rsa.PrivateKey, kid string, edit func(jwt.MapClaims)) string {
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
	good := token(t, key, "k1", nil)
	if err := v.Check([]string{good}, []string{tenant}); err != nil {
		t.Fatalf("valid v1 token: %v", err)
	}
	v2 := token(t, key, "k1", func(c jwt.MapClaims) {
		c["ver"], c["azp"], c["iss"] = "2.0", ChangeTrackingAppID, login+"/"+tenant+"/v2.0"
		delete(c, "appid")
	})
	if err := v.Check([]string{v2, good}, []string{tenant}); err != nil {
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
		err := v.Check([]string{good, tok}, []string{tenant})
		if !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v, want ErrInvalidToken", name, err)
		}
	}
	if err := v.Check(nil, []string{tenant}); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("no tokens: %v", err)
	}
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"aud": ourApp})
	s, _ := hs.SignedString([]byte("k"))
	if err := v.Check([]string{s}, []string{tenant}); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("HS256 token: %v", err)
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
	if err := v.Check([]string{token(t, key, "k1", nil)}, []string{tenant}); !errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrInvalidToken) {
		t.Errorf("keys unreachable: %v, want ErrKeysUnavailable", err)
	}
}
