package intake

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"presencebridge/internal/notification"
	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

// microsoft signs validation tokens as Graph Change Tracking does, with a
// key our validator finds in the identity platform's JWKS it serves.
type microsoft struct {
	key   *rsa.PrivateKey
	login string
}

func newMicrosoft(t *testing.T) *microsoft {
	t.Helper()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	jwks := map[string]any{"keys": []map[string]any{{"kty": "RSA", "use": "sig", "kid": "k1", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes())}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { json.NewEncoder(w).Encode(jwks) }))
	t.Cleanup(srv.Close)
	return &microsoft{key: key, login: srv.URL}
}

// token is the validation token Graph sends for the subscriptions app made
// in tenant.
func (ms *microsoft) token(t *testing.T, tenant uuid.UUID, app string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"aud": app, "iss": "https://sts.windows.net/" + tenant.String() + "/",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(8 * time.Hour).Unix(), "appid": notification.ChangeTrackingAppID,
		"appidacr": "2", "tid": tenant.String(), "ver": "1.0"})
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(ms.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAValidationTokenVouchesOnlyForTheTenantsOfItsApp: Graph's token
// names the app that made the subscription. A tenant on its own app
// registration has its items trusted with a token for that app; our app's
// tenants with ours; and a token never vouches for a tenant on another
// app — not when the token's app is another tenant's, nor when it is ours
// and the tenant has its own.
func TestAValidationTokenVouchesOnlyForTheTenantsOfItsApp(t *testing.T) {
	f := newFixture(t) // Contoso, on our app, subscription sub-1
	ctx := context.Background()
	ourApp, ownApp, strangerApp := uuid.NewString(), uuid.New(), uuid.NewString()

	// Fabrikam, on its own app registration, subscription sub-2.
	fabrikam, fabrikamMS := f.otherTenant(t, "Fabrikam", "sub-2", "cs2")
	err := f.st.InTx(ctx, func(tx store.Tx) error {
		_, err := tx.PutTenantApp(ctx, store.TenantApp{TenantID: fabrikam, ClientID: ownApp, AppTenantID: fabrikamMS}, "own~secret")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	p, ms := f.checkingTokens(t, ourApp)
	contosoItem := func() map[string]any { return f.rich(t, uuid.New(), "Busy", "InACall", "1") }
	fabrikamItem := func() map[string]any { return f.richOf(t, "sub-2", "cs2", fabrikamMS) }
	contosoOurs, fabrikamOwn := ms.token(t, f.msTenant, ourApp), ms.token(t, fabrikamMS, ownApp.String())

	for _, c := range []struct {
		name    string
		items   []map[string]any
		tokens  []string
		applied int
	}{
		{"our tenant's item with our app's token", []map[string]any{contosoItem()}, []string{contosoOurs}, 1},
		{"an own-app tenant's item with its app's token", []map[string]any{fabrikamItem()}, []string{fabrikamOwn}, 1},
		{"both tenants in one POST, each with its token", []map[string]any{contosoItem(), fabrikamItem()}, []string{contosoOurs, fabrikamOwn}, 2},
		{"an own-app tenant's item with our app's token", []map[string]any{fabrikamItem()}, []string{ms.token(t, fabrikamMS, ourApp)}, 0},
		{"an own-app tenant's item with another app's token", []map[string]any{fabrikamItem()}, []string{ms.token(t, fabrikamMS, strangerApp)}, 0},
		{"our tenant's item with the own app's token", []map[string]any{contosoItem()}, []string{ms.token(t, f.msTenant, ownApp.String())}, 0},
		{"both tenants, only our tenant's token", []map[string]any{contosoItem(), fabrikamItem()}, []string{contosoOurs}, 0},
		{"both tenants, the own-app tenant's token with our app", []map[string]any{contosoItem(), fabrikamItem()},
			[]string{contosoOurs, ms.token(t, fabrikamMS, ourApp)}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, _ := json.Marshal(map[string]any{"value": c.items, "validationTokens": c.tokens})
			testkit.Exec(t, f.pool, `INSERT INTO inbox (kind, payload, items) VALUES ('change', $1, $2)`, b, len(c.items))
			st, err := p.Drain(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rejected := len(c.items) - c.applied; st.Applied != c.applied || st.Rejected != rejected {
				t.Errorf("stats = %+v, want %d applied and %d rejected (one bad token makes the whole POST suspect)", st, c.applied, rejected)
			}
		})
	}
}
