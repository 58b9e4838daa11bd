// Package identity holds everything Presence Bridge asks of the Microsoft
// identity platform: the admin-consent URL and callback, confirmation of
// consent with an app-only token, presence-monitor sign-in (authorization
// code with PKCE, or a password used once), refresh with rotation, and the
// classification of token errors into "ask a person" and "retry".
//
// It speaks OAuth through golang.org/x/oauth2; the login endpoint is
// configurable, so graphsim or a national cloud can stand in for
// login.microsoftonline.com. Sources: docs/identity.md
// (sections named in comments) and Microsoft's pages it links.
package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// DefaultLoginURL is the global cloud's identity platform.
const DefaultLoginURL = "https://login.microsoftonline.com"

// GraphDefaultScope asks for every permission the registration requires
// (admin consent, client credentials).
const GraphDefaultScope = "https://graph.microsoft.com/.default"

// MonitorScopes are what a presence-monitor account signs in for.
var MonitorScopes = []string{"offline_access", "openid", "profile", "Presence.Read.All", "User.ReadBasic.All"}

// WriteBackRole is the application permission writing another user's
// presence into Teams takes (setPresence and its relatives). Our
// registration lists it, but tenants that consented before it did have not
// granted it until an administrator consents again; reading presence does
// not need it, so its absence is alerted, never a reason to refuse a
// tenant (docs/identity.md#write-back-consent).
const WriteBackRole = "Presence.ReadWrite.All"

// App is an app registration's credentials: ours (multi-tenant) or a
// tenant's own ("bring your own app").
type App struct {
	ClientID     string
	ClientSecret string
}

// Client talks to one identity platform.
type Client struct {
	login string
	hc    *http.Client
	now   func() time.Time
	oidc  providerCache // the sign-in authority's configuration (signin.go)
}

// Options configure a Client.
type Options struct {
	// LoginURL is the identity platform's base URL (default
	// https://login.microsoftonline.com); graphsim's base URL in tests and
	// development.
	LoginURL string
	// HTTPClient defaults to one with a 30 s timeout.
	HTTPClient *http.Client
	// Now replaces time.Now in tests.
	Now func() time.Time
}

// New returns a Client.
func New(opts Options) (*Client, error) {
	login := strings.TrimSuffix(opts.LoginURL, "/")
	if login == "" {
		login = DefaultLoginURL
	}
	u, err := url.Parse(login)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("identity: login URL %q is not an http(s) URL", opts.LoginURL)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Client{login: login, hc: hc, now: now}, nil
}

func (c *Client) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.hc)
}

func (c *Client) endpoint(tenant string) oauth2.Endpoint {
	t := url.PathEscape(tenant)
	return oauth2.Endpoint{
		AuthURL:   c.login + "/" + t + "/oauth2/v2.0/authorize",
		TokenURL:  c.login + "/" + t + "/oauth2/v2.0/token",
		AuthStyle: oauth2.AuthStyleInParams, // Entra documents form parameters; no Basic-then-retry probing (docs/identity.md#oauth-library)
	}
}

// AdminConsentURL is where a customer's administrator grants our app its
// permissions in their tenant (docs/identity.md#admin-consent). tenant is the
// declared tenant (id or domain), or "organizations".
func (c *Client) AdminConsentURL(app App, tenant, redirectURI, state string) string {
	q := url.Values{}
	q.Set("client_id", app.ClientID)
	q.Set("scope", GraphDefaultScope)
	q.Set("redirect_uri", redirectURI)
	q.Set("state", state)
	return c.login + "/" + url.PathEscape(tenant) + "/v2.0/adminconsent?" + q.Encode()
}

// ConsentResult is the admin-consent redirect's query. Tenant is what the
// browser says: untrusted until ConfirmConsent agrees.
type ConsentResult struct {
	Granted          bool
	Tenant           string
	Scope            string
	State            string
	Error            string
	ErrorDescription string
}

// ParseConsentCallback reads the redirect: ?admin_consent=True&tenant&scope&state
// or ?error&error_description&state (docs/identity.md#admin-consent).
func ParseConsentCallback(q url.Values) ConsentResult {
	r := ConsentResult{Tenant: q.Get("tenant"), Scope: q.Get("scope"), State: q.Get("state"),
		Error: q.Get("error"), ErrorDescription: q.Get("error_description")}
	r.Granted = r.Error == "" && strings.EqualFold(q.Get("admin_consent"), "true")
	return r
}

// Declined reports whether the admin said no (or closed the page), as
// opposed to an error in the request.
func (r ConsentResult) Declined() bool {
	return r.Error == "access_denied" || strings.Contains(r.ErrorDescription, "AADSTS65004")
}

// AppToken is an app-only Graph token for one tenant.
type AppToken struct {
	AccessToken string
	Expiry      time.Time
	TenantID    uuid.UUID
	Roles       []string
}

// AppTokenFor gets an app-only Graph token for tenant by client credentials
// (docs/identity.md#client-credentials). Consent missing comes back as ConsentMissing.
func (c *Client) AppTokenFor(ctx context.Context, app App, tenant string) (AppToken, error) {
	cc := clientcredentials.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret,
		TokenURL: c.endpoint(tenant).TokenURL, Scopes: []string{GraphDefaultScope}, AuthStyle: oauth2.AuthStyleInParams}
	tok, err := cc.Token(c.ctx(ctx))
	if err != nil {
		return AppToken{}, classify(err)
	}
	claims, err := jwtClaims(tok.AccessToken)
	if err != nil {
		return AppToken{}, &Error{Class: Invalid, Code: "unreadable_token", Summary: "the access token is not a JWT: " + err.Error()}
	}
	at := AppToken{AccessToken: tok.AccessToken, Expiry: tok.Expiry, Roles: claims.Roles}
	if at.TenantID, err = claimID("unreadable_token", "the access token", "tid", claims.TenantID); err != nil {
		return AppToken{}, err
	}
	return at, nil
}

// ErrConsentIncomplete means the tenant consented but without every
// application permission we need (an older registration, or an admin who
// removed one).
var ErrConsentIncomplete = errors.New("consent is missing permissions")

// ConfirmConsent checks, independently of the browser's word, that tenant
// consented: an app-only token for it must be issued, name that tenant and
// carry every role in want (docs/identity.md#admin-consent: the redirect's tenant is untrusted).
func (c *Client) ConfirmConsent(ctx context.Context, app App, tenant string, want []string) (AppToken, error) {
	at, err := c.AppTokenFor(ctx, app, tenant)
	if err != nil {
		return at, err
	}
	if id, err := uuid.Parse(tenant); err == nil && id != at.TenantID {
		return at, fmt.Errorf("identity: token for tenant %s names tenant %s", tenant, at.TenantID)
	}
	var missing []string
	for _, r := range want {
		if !slices.ContainsFunc(at.Roles, func(x string) bool { return strings.EqualFold(x, r) }) {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		return at, fmt.Errorf("%w: %s", ErrConsentIncomplete, strings.Join(missing, ", "))
	}
	return at, nil
}

// SignIn is a sign-in in progress: send the browser to URL and keep
// Verifier and Nonce (server side) until the callback, with Tenant for a
// person's sign-in at one organization's authority (SignInOptions.Tenant).
type SignIn struct {
	URL      string
	Verifier string
	Nonce    string
	Tenant   string
}

// MonitorSignIn starts the authorization-code flow with PKCE S256 for a
// presence-monitor account (docs/identity.md#delegated-sign-in), prefilled with loginHint.
func (c *Client) MonitorSignIn(app App, tenant, redirectURI, loginHint, state string) SignIn {
	cfg := c.monitorConfig(app, tenant, redirectURI)
	si := SignIn{Verifier: oauth2.GenerateVerifier(), Nonce: oauth2.GenerateVerifier()}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(si.Verifier),
		oauth2.SetAuthURLParam("nonce", si.Nonce), oauth2.SetAuthURLParam("response_mode", "query"),
		oauth2.SetAuthURLParam("prompt", "login")}
	if loginHint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", loginHint))
	}
	si.URL = cfg.AuthCodeURL(state, opts...)
	return si
}

func (c *Client) monitorConfig(app App, tenant, redirectURI string) *oauth2.Config {
	return &oauth2.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret, Endpoint: c.endpoint(tenant),
		RedirectURL: redirectURI, Scopes: MonitorScopes}
}

// Account is who signed in, from the ID token.
type Account struct {
	TenantID uuid.UUID
	ObjectID uuid.UUID
	Username string // preferred_username: the UPN for work accounts
	Name     string
}

// Grant is what a successful sign-in or refresh yields. RefreshToken is
// the secret to seal; it rotates on every refresh (docs/identity.md#refresh-token-rotation).
type Grant struct {
	AccessToken  string
	RefreshToken string
	Expiry       time.Time
	Scopes       []string
	Account      Account
}

// Redeem exchanges the authorization code from the callback for tokens,
// proving the PKCE verifier, and checks the ID token: our audience, the
// expected nonce, not expired (docs/identity.md#delegated-sign-in, docs/identity.md#token-claims).
func (c *Client) Redeem(ctx context.Context, app App, tenant, redirectURI, code string, si SignIn) (Grant, error) {
	tok, err := c.monitorConfig(app, tenant, redirectURI).Exchange(c.ctx(ctx), code, oauth2.VerifierOption(si.Verifier))
	if err != nil {
		return Grant{}, classify(err)
	}
	return c.grant(app, tok, si.Nonce)
}

// PasswordOnce signs a monitor account in with its password (ROPC, docs/identity.md#password-sign-in) to
// obtain a refresh token. The password is used for this one request and
// never kept; MFA-enforced accounts fail with Reauthorize (AADSTS50076).
func (c *Client) PasswordOnce(ctx context.Context, app App, tenant, username, password string) (Grant, error) {
	tok, err := c.monitorConfig(app, tenant, "").PasswordCredentialsToken(c.ctx(ctx), username, password)
	if err != nil {
		return Grant{}, classify(err)
	}
	return c.grant(app, tok, "")
}

// Refresh redeems a refresh token (docs/identity.md#refresh). The Grant's RefreshToken is the
// rotated one: store it in place of the old one.
func (c *Client) Refresh(ctx context.Context, app App, tenant, refreshToken string) (Grant, error) {
	src := c.monitorConfig(app, tenant, "").TokenSource(c.ctx(ctx), &oauth2.Token{RefreshToken: refreshToken})
	tok, err := src.Token()
	if err != nil {
		return Grant{}, classify(err)
	}
	return c.grant(app, tok, "")
}

func (c *Client) grant(app App, tok *oauth2.Token, nonce string) (Grant, error) {
	g := Grant{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry}
	if s, ok := tok.Extra("scope").(string); ok {
		g.Scopes = strings.Fields(s)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return g, nil // refreshes without openid carry no ID token
	}
	// The ID token came straight from the token endpoint over TLS, so the
	// channel vouches for its issuer (OpenID Connect Core 3.1.3.7 (6));
	// audience, nonce and expiry are still ours to check.
	cl, err := jwtClaims(raw)
	if err != nil {
		return g, &Error{Class: Invalid, Code: "invalid_id_token", Summary: "the ID token is not a JWT: " + err.Error()}
	}
	switch {
	case cl.Audience != app.ClientID:
		return g, &Error{Class: Invalid, Code: "invalid_id_token", Summary: "the ID token is for another application"}
	case nonce != "" && cl.Nonce != nonce:
		return g, &Error{Class: Invalid, Code: "invalid_id_token", Summary: "the ID token's nonce does not match this sign-in"}
	case cl.Expires != 0 && c.now().Unix() > cl.Expires+300:
		return g, &Error{Class: Invalid, Code: "invalid_id_token", Summary: "the ID token has expired"}
	}
	g.Account = Account{Username: cl.PreferredUsername, Name: cl.Name}
	if g.Account.TenantID, err = claimID("invalid_id_token", "the ID token", "tid", cl.TenantID); err != nil {
		return g, err
	}
	if g.Account.ObjectID, err = claimID("invalid_id_token", "the ID token", "oid", cl.ObjectID); err != nil {
		return g, err
	}
	if g.Account.Username == "" {
		g.Account.Username = cl.UPN
	}
	return g, nil
}

type claims struct {
	Audience          string   `json:"aud"`
	TenantID          string   `json:"tid"`
	ObjectID          string   `json:"oid"`
	PreferredUsername string   `json:"preferred_username"`
	UPN               string   `json:"upn"`
	Name              string   `json:"name"`
	Nonce             string   `json:"nonce"`
	Expires           int64    `json:"exp"`
	Roles             []string `json:"roles"`
}

// claimID reads a tid or oid claim. Both are GUIDs in every token Entra
// issues (docs/identity.md#token-claims); anything else is refused rather
// than becoming uuid.Nil, which would key a monitor or a consent check to
// no tenant at all.
func claimID(code, token, claim, v string) (uuid.UUID, error) {
	id, err := uuid.Parse(v)
	if err != nil {
		return uuid.Nil, &Error{Class: Invalid, Code: code,
			Summary: fmt.Sprintf("%s's %s claim is not a GUID: %.64q", token, claim, v)}
	}
	return id, nil
}

// jwtClaims reads a JWT's payload without verifying it: only for tokens
// received directly from the token endpoint.
func jwtClaims(raw string) (claims, error) {
	var c claims
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return c, errors.New("not three dot-separated parts")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c, err
	}
	return c, json.Unmarshal(b, &c)
}
