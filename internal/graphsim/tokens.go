package graphsim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Token lifetimes as Entra issues them (docs/identity.md#delegated-sign-in, docs/identity.md#refresh-token-rotation).
const (
	accessTokenLifetime  = 3599 * time.Second
	refreshTokenLifetime = 90 * 24 * time.Hour // sliding: each new refresh token lives this long
	authCodeLifetime     = 10 * time.Minute
)

// signer holds the RSA key that signs every token, published in the JWKS
// with a self-signed certificate as Entra publishes its keys (x5t, x5c).
type signer struct {
	key  *rsa.PrivateKey
	kid  string
	x5t  string
	cert []byte
}

func newSigner(key *rsa.PrivateKey) *signer {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "graphsim token signing"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(5, 0, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(fmt.Sprintf("graphsim: self-sign: %v", err))
	}
	return signerWith(key, der)
}

// signerWith is the signer of key publishing certificate der (made by
// newSigner, or kept in a snapshot).
func signerWith(key *rsa.PrivateKey, der []byte) *signer {
	thumb := sha1.Sum(der) // x5t is the SHA-1 thumbprint by definition (RFC 7517)
	x5t := base64.RawURLEncoding.EncodeToString(thumb[:])
	return &signer{key: key, kid: x5t, x5t: x5t, cert: der}
}

func (g *signer) sign(claims jwt.MapClaims) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = g.kid
	tok.Header["x5t"] = g.x5t
	s, err := tok.SignedString(g.key)
	if err != nil {
		panic(fmt.Sprintf("graphsim: sign token: %v", err))
	}
	return s
}

// jwks is the key set document (docs/identity.md#token-claims: kty, use, kid, x5t,
// n, e, x5c, issuer template).
func (g *signer) jwks(base string) map[string]any {
	pub := g.key.PublicKey
	return map[string]any{"keys": []map[string]any{{
		"kty":    "RSA",
		"use":    "sig",
		"kid":    g.kid,
		"x5t":    g.x5t,
		"n":      base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":      base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		"x5c":    []string{base64.StdEncoding.EncodeToString(g.cert)},
		"issuer": base + "/{tenantid}/v2.0",
	}}}
}

// Principal is who a Graph access token speaks for.
type Principal struct {
	TenantID uuid.UUID
	AppID    string
	UserID   uuid.UUID // zero for app-only tokens
	UPN      string
	Scopes   []string // delegated permissions (scp)
	Roles    []string // application permissions (roles)
}

// Delegated reports whether the token acts for a signed-in user.
func (p *Principal) Delegated() bool { return p.UserID != uuid.Nil }

// Has reports whether the token carries permission perm, delegated or
// application, or a stronger ReadWrite form of it.
func (p *Principal) Has(perm string) bool {
	rw := strings.Replace(perm, ".Read.", ".ReadWrite.", 1)
	for _, list := range [][]string{p.Scopes, p.Roles} {
		for _, x := range list {
			if strings.EqualFold(x, perm) || strings.EqualFold(x, rw) {
				return true
			}
		}
	}
	return false
}

// accessToken issues a v1-format Graph access token, as Graph tokens are
// (iss https://sts.windows.net/{tid}/, appid, upn; docs/identity.md#token-claims).
func (s *Sim) accessToken(t *Tenant, app *App, u *User, scopes, roles []string, now time.Time) unsignedJWT {
	c := jwt.MapClaims{
		"aud":             "https://graph.microsoft.com",
		"iss":             "https://sts.windows.net/" + t.ID.String() + "/",
		"iat":             now.Unix(),
		"nbf":             now.Unix(),
		"exp":             now.Add(accessTokenLifetime).Unix(),
		"appid":           app.ClientID,
		"app_displayname": app.DisplayName,
		"appidacr":        "1",
		"tid":             t.ID.String(),
		"ver":             "1.0",
		"uti":             randomID(16),
		"xms_tcdt":        now.Add(-365 * 24 * time.Hour).Unix(),
	}
	if u != nil {
		c["idtyp"] = "user"
		c["oid"] = u.ID.String()
		c["sub"] = pairwiseSub(u.ID, app.ClientID)
		c["upn"] = u.UPN
		c["unique_name"] = u.UPN
		c["name"] = u.DisplayName
		c["scp"] = strings.Join(scopes, " ")
	} else {
		c["idtyp"] = "app"
		c["oid"] = servicePrincipalID(t.ID, app.ClientID).String()
		c["sub"] = c["oid"]
		if len(roles) > 0 { // no roles claim at all when none were granted (docs/identity.md#client-credentials)
			c["roles"] = roles
		}
	}
	return unsignedJWT(c)
}

// unsignedJWT is a token's claims, to be signed once the Sim's lock is
// released (signPending): an RSA signature is about a millisecond, and
// made under the lock it held up every other request — a thousand
// tenants' app tokens asked for at once stalled graphsim's notifications
// for a second in the load run (issue 16).
type unsignedJWT jwt.MapClaims

// signPending signs, in place, the tokens of resp still to sign.
func (s *Sim) signPending(resp map[string]any) {
	for k, v := range resp {
		if c, ok := v.(unsignedJWT); ok {
			resp[k] = s.signer.sign(jwt.MapClaims(c))
		}
	}
}

// idToken issues a v2 ID token for the client (docs/identity.md#token-claims).
func (s *Sim) idToken(base string, t *Tenant, app *App, u *User, facts signInFacts, now time.Time) unsignedJWT {
	c := jwt.MapClaims{
		"aud":                app.ClientID,
		"iss":                base + "/" + t.ID.String() + "/v2.0",
		"iat":                now.Unix(),
		"nbf":                now.Unix(),
		"exp":                now.Add(time.Hour).Unix(),
		"tid":                t.ID.String(),
		"oid":                u.ID.String(),
		"sub":                pairwiseSub(u.ID, app.ClientID),
		"preferred_username": u.UPN,
		"name":               u.DisplayName,
		"ver":                "2.0",
		"uti":                randomID(16),
	}
	if u.Guest {
		// A guest is named by its home address and authenticated by its
		// home organization, which idp records (docs/identity.md#guests).
		c["preferred_username"] = u.Mail
		c["idp"] = homeIssuer(s.guestHomeLocked(u))
	}
	if facts.nonce != "" {
		c["nonce"] = facts.nonce
	}
	if !facts.authTime.IsZero() {
		c["auth_time"] = facts.authTime.Unix()
	}
	if wids := directoryRoles(u); len(wids) > 0 && emitsWids(app) {
		c["wids"] = wids
	}
	return unsignedJWT(c)
}

// Authenticate validates the bearer token of a Graph request.
func (s *Sim) Authenticate(r *http.Request) (*Principal, error) {
	auth := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || raw == "" {
		return nil, errors.New("no bearer token")
	}
	signer := s.signer
	if p, ok := s.authenticated.get(raw, signer, s.clock()); ok {
		return p, nil
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return &signer.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience("https://graph.microsoft.com"),
		jwt.WithTimeFunc(s.clock), jwt.WithExpirationRequired())
	if err != nil {
		return nil, err
	}
	p, err := principalOf(claims)
	if err != nil {
		return nil, err
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		s.authenticated.put(raw, signer, exp.Time, p)
	}
	return p, nil
}

// principalOf reads who a verified token is.
func principalOf(claims jwt.MapClaims) (*Principal, error) {
	var err error
	p := &Principal{}
	if p.TenantID, err = uuid.Parse(str(claims["tid"])); err != nil {
		return nil, errors.New("token has no tid")
	}
	p.AppID = str(claims["appid"])
	if claims["idtyp"] == "user" {
		if p.UserID, err = uuid.Parse(str(claims["oid"])); err != nil {
			return nil, errors.New("token has no oid")
		}
		p.UPN = str(claims["upn"])
		p.Scopes = strings.Fields(str(claims["scp"]))
	} else if roles, ok := claims["roles"].([]any); ok {
		for _, r := range roles {
			p.Roles = append(p.Roles, str(r))
		}
	}
	return p, nil
}

func str(v any) string { s, _ := v.(string); return s }

func pairwiseSub(user uuid.UUID, clientID string) string {
	h := sha256.Sum256([]byte(user.String() + "|" + clientID))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// servicePrincipalID is a stable id for an app's service principal in a tenant.
func servicePrincipalID(tenant uuid.UUID, clientID string) uuid.UUID {
	return uuid.NewSHA1(tenant, []byte("sp:"+clientID))
}

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// opaqueToken makes refresh tokens and codes look like Entra's: long,
// opaque, starting "1.A" / "0.A" (they are not JWTs).
func opaqueToken(prefix string) string {
	b := make([]byte, 48)
	rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}
