package graphsim

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// refreshRecord is an issued refresh token. Tokens rotate on every use
// but the old one is not revoked by that (docs/identity.md#refresh-token-rotation); each
// lives 90 days from its issue unless the user's sessions are revoked.
type refreshRecord struct {
	app    *App
	tenant *Tenant
	user   *User
	scopes []string
	oidc   []string
	issued time.Time
}

// token handles POST /{tenant}/oauth2/v2.0/token for the four grants we
// use: authorization_code (PKCE), refresh_token, password (ROPC) and
// client_credentials.
func (s *Sim) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.writeTokenError(w, newAAD(400, "invalid_request", 900144, "The request body is not a valid form."))
		return
	}
	f := r.PostForm
	seg := chi.URLParam(r, "tenant")
	clientID, secret, basic := r.BasicAuth()
	if !basic {
		clientID, secret = f.Get("client_id"), f.Get("client_secret")
	}
	grant := f.Get("grant_type")
	if grant == "" {
		s.writeTokenError(w, errMissingParam("grant_type"))
		return
	}
	if clientID == "" {
		s.writeTokenError(w, errMissingParam("client_id"))
		return
	}
	s.tokenStats.request(clientID, grant)
	if e, hit := s.faults.tokenFault(clientID, "", grant); hit {
		if e.delay > 0 {
			time.Sleep(e.delay)
		}
		if e.err != nil {
			s.writeTokenError(w, *e.err)
			return
		}
	}
	resp := func() map[string]any {
		s.mu.Lock()
		defer s.mu.Unlock()
		t, multi, found := s.tenantLocked(seg)
		if !found {
			s.writeTokenError(w, errTenantNotFound(seg))
			return nil
		}
		app := s.apps[clientID]
		if app == nil {
			s.writeTokenError(w, errAppNotFound(clientID, seg))
			return nil
		}
		if e := s.checkSecretLocked(app, secret); e != nil {
			s.writeTokenError(w, *e)
			return nil
		}
		now := s.clock()
		var resp map[string]any
		var e *aadError
		switch grant {
		case "authorization_code":
			resp, e = s.redeemCodeLocked(app, t, f, now)
		case "refresh_token":
			resp, e = s.redeemRefreshLocked(app, t, f, now)
		case "password":
			if multi && strings.EqualFold(seg, "common") {
				x := errCommonNotAllowed()
				e = &x
				break
			}
			resp, e = s.passwordLocked(app, t, f, now)
		case "client_credentials":
			if multi {
				x := errTenantNotFound(seg) // client credentials need a specific tenant (docs/identity.md#client-credentials)
				e = &x
				break
			}
			resp, e = s.clientCredentialsLocked(app, t, f.Get("scope"), now)
		default:
			x := errUnsupportedGrant(grant)
			e = &x
		}
		if e != nil {
			s.writeTokenError(w, *e)
			return nil
		}
		return resp
	}()
	if resp == nil {
		return
	}
	s.signPending(resp)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	json.NewEncoder(w).Encode(resp)
}

// checkSecretLocked authenticates a confidential client: the secret must
// match one of the app's, and that one must not have expired.
func (s *Sim) checkSecretLocked(app *App, secret string) *aadError {
	if secret == "" {
		e := errNoSecret()
		return &e
	}
	for _, sec := range app.Secrets {
		if subtle.ConstantTimeCompare([]byte(sec.Value), []byte(secret)) == 1 {
			if !s.clock().Before(sec.Expires) {
				e := errSecretExpired(app.ClientID)
				return &e
			}
			return nil
		}
	}
	e := errBadSecret(app.ClientID)
	return &e
}

func (s *Sim) redeemCodeLocked(app *App, t *Tenant, f map[string][]string, now time.Time) (map[string]any, *aadError) {
	get := func(k string) string {
		if v := f[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if get("code") == "" {
		e := errMissingParam("code")
		return nil, &e
	}
	c := s.codes[get("code")]
	switch {
	case c == nil || c.app != app || (t != nil && c.tenant != t):
		e := errBadGrant()
		return nil, &e
	case c.redeemed:
		e := errCodeRedeemed()
		return nil, &e
	case now.Sub(c.issued) > authCodeLifetime:
		e := errCodeExpired()
		return nil, &e
	case get("redirect_uri") != c.redirectURI:
		e := errRedirectMismatch()
		return nil, &e
	case !pkceOK(c.challenge, c.method, get("code_verifier")):
		e := errVerifier()
		return nil, &e
	}
	if e := s.userFault(app, c.user, "authorization_code"); e != nil {
		return nil, e
	}
	c.redeemed = true
	facts := signInFacts{nonce: c.nonce}
	if c.maxAge { // OpenID Connect Core 3.1.2.1: max_age asked, auth_time given
		facts.authTime = c.authTime
	}
	return s.userTokensLocked(app, c.tenant, c.user, c.scopes, c.oidc, facts, now), nil
}

func (s *Sim) redeemRefreshLocked(app *App, t *Tenant, f map[string][]string, now time.Time) (map[string]any, *aadError) {
	raw := ""
	if v := f["refresh_token"]; len(v) > 0 {
		raw = v[0]
	}
	if raw == "" {
		e := errMissingParam("refresh_token")
		return nil, &e
	}
	rec := s.refresh[raw]
	switch {
	case rec == nil || rec.app != app:
		e := errBadGrant()
		return nil, &e
	case t != nil && rec.tenant != t:
		e := errBadGrant()
		return nil, &e
	case !rec.user.RevokedAt.IsZero() && !rec.issued.After(rec.user.RevokedAt):
		e := errRevoked(rec.issued, rec.user.RevokedAt)
		return nil, &e
	case now.Sub(rec.issued) > refreshTokenLifetime:
		e := errRefreshExpired(rec.issued)
		return nil, &e
	case !rec.user.Enabled:
		e := errUserDisabled()
		return nil, &e
	}
	if e := s.userFault(app, rec.user, "refresh_token"); e != nil {
		return nil, e
	}
	grant := rec.tenant.grants[app.ClientID]
	if grant == nil { // consent withdrawn since
		e := errNoConsent(app)
		return nil, &e
	}
	if grant.Disabled {
		e := errAppDisabled(app)
		return nil, &e
	}
	var scopes []string
	for _, sc := range rec.scopes {
		if slices.Contains(grant.Scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	return s.userTokensLocked(app, rec.tenant, rec.user, scopes, rec.oidc, signInFacts{}, now), nil
}

func (s *Sim) passwordLocked(app *App, t *Tenant, f map[string][]string, now time.Time) (map[string]any, *aadError) {
	get := func(k string) string {
		if v := f[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if get("username") == "" {
		e := errMissingParam("username")
		return nil, &e
	}
	u, creds, aadErr := s.signInAccountLocked(get("username"), t)
	tenantName := "this"
	if t != nil {
		tenantName = t.Domain
	}
	switch {
	case aadErr != "":
		e := errUserNotFound(tenantName)
		return nil, &e
	case creds.Password != get("password"):
		e := errBadPassword()
		return nil, &e
	case !u.Enabled || !creds.Enabled:
		e := errUserDisabled()
		return nil, &e
	case creds.MFARequired: // ROPC cannot do MFA (docs/identity.md#password-sign-in)
		e := errMFARequired()
		return nil, &e
	}
	if e := s.userFault(app, u, "password"); e != nil {
		return nil, e
	}
	tenant := s.tenants[u.TenantID]
	scopes, missing := grantedScopes(tenant.grants[app.ClientID], strings.Fields(get("scope")))
	if missing != "" {
		e := errNoConsent(app)
		return nil, &e
	}
	return s.userTokensLocked(app, tenant, u, scopes, strings.Fields(get("scope")), signInFacts{}, now), nil
}

func (s *Sim) clientCredentialsLocked(app *App, t *Tenant, scope string, now time.Time) (map[string]any, *aadError) {
	if scope == "" {
		e := errMissingParam("scope")
		return nil, &e
	}
	if scope != "https://graph.microsoft.com/.default" && scope != GraphAppID+"/.default" {
		e := errClientCredentialsScope(scope)
		return nil, &e
	}
	grant := t.grants[app.ClientID]
	if grant == nil { // no service principal: no admin consent here (docs/identity.md#token-errors: 7000229 before secret checks)
		e := errMissingServicePrincipal(app.ClientID, t.ID)
		return nil, &e
	}
	if grant.Disabled {
		e := errAppDisabled(app)
		return nil, &e
	}
	return map[string]any{
		"token_type":     "Bearer",
		"expires_in":     int(accessTokenLifetime.Seconds()),
		"ext_expires_in": int(accessTokenLifetime.Seconds()),
		"access_token":   s.accessToken(t, app, nil, nil, grant.Roles, now),
	}, nil
}

// userTokensLocked issues a delegated access token, plus a refresh token
// with offline_access and an ID token with openid (docs/identity.md#delegated-sign-in).
func (s *Sim) userTokensLocked(app *App, t *Tenant, u *User, scopes, requested []string, facts signInFacts, now time.Time) map[string]any {
	resp := map[string]any{
		"token_type":     "Bearer",
		"scope":          strings.Join(qualified(withOIDC(scopes, requested)), " "),
		"expires_in":     int(accessTokenLifetime.Seconds()),
		"ext_expires_in": int(accessTokenLifetime.Seconds()),
		"access_token":   s.accessToken(t, app, u, scopes, nil, now),
	}
	if slices.Contains(requested, "offline_access") {
		rt := opaqueToken("1.A")
		s.refresh[rt] = &refreshRecord{app: app, tenant: t, user: u, scopes: scopes, oidc: withOIDC(nil, requested), issued: now}
		resp["refresh_token"] = rt
	}
	if slices.Contains(requested, "openid") {
		resp["id_token"] = s.idToken(s.BaseURL(), t, app, u, facts, now)
	}
	return resp
}

// withOIDC adds to scopes the OIDC scopes among requested.
func withOIDC(scopes, requested []string) []string {
	out := slices.Clone(scopes)
	for _, r := range requested {
		if isOIDCScope(r) && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// pkceOK checks a code_verifier (RFC 7636). No challenge at sign-in means
// no verifier is needed.
func pkceOK(challenge, method, verifier string) bool {
	if challenge == "" {
		return true
	}
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	if method == "plain" {
		return subtle.ConstantTimeCompare([]byte(challenge), []byte(verifier)) == 1
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// userFault applies a fault aimed at one user (errors only: a delay here
// would hold the directory lock).
func (s *Sim) userFault(app *App, u *User, grant string) *aadError {
	s.tokenStats.user(app.ClientID, grant, u.UPN)
	if hit, ok := s.faults.tokenFault(app.ClientID, u.UPN, grant); ok && hit.err != nil {
		return hit.err
	}
	return nil
}
