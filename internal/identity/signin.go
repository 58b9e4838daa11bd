package identity

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"golang.org/x/oauth2"
)

// Directory role template ids, as they appear in the wids claim
// (https://learn.microsoft.com/en-us/entra/identity/role-based-access-control/permissions-reference;
// docs/identity.md#people-signing-in).
const (
	RoleGlobalAdministrator           = "62e90394-69f5-4237-9190-012177145e10"
	RolePrivilegedRoleAdministrator   = "e8611ab8-c189-46e8-94e1-60213ab1f814"
	RoleCloudApplicationAdministrator = "158c047a-c907-4556-b7ef-446551a6b5f7"
	RoleApplicationAdministrator      = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
)

// ConsentRoles are the directory roles whose holders may grant our app
// tenant-wide admin consent. Our registration asks for Microsoft Graph
// application permissions, which only a Global Administrator or a
// Privileged Role Administrator may consent to: Cloud Application and
// Application Administrators may consent to anything except Graph's app
// roles (https://learn.microsoft.com/en-us/entra/identity/enterprise-apps/grant-admin-consent),
// so they do not count here.
var ConsentRoles = []string{RoleGlobalAdministrator, RolePrivilegedRoleAdministrator}

// SignInScopes are what a person signing in to our pages is asked for:
// who they are, nothing of their data.
var SignInScopes = []string{"openid", "profile"}

// SignInAuthority is the multi-tenant authority people sign in at: any
// work or school account, no personal Microsoft accounts
// (https://learn.microsoft.com/en-us/entra/identity-platform/msal-client-application-configuration#authority).
const SignInAuthority = "organizations"

// Identity is a person who signed in, read from a verified ID token.
type Identity struct {
	TenantID uuid.UUID // tid: their Microsoft tenant
	ObjectID uuid.UUID // oid: their account in it, immutable
	Username string    // preferred_username (the UPN of work accounts), else upn: for display only
	Name     string
	// AuthTime is when they last entered their credentials: auth_time when
	// the token has it, else iat (docs/identity.md#people-signing-in).
	AuthTime time.Time
	// DirectoryRoles are the wids claim: template ids of the directory
	// roles they hold, present only when the registration's
	// groupMembershipClaims is DirectoryRole or All.
	DirectoryRoles []string
}

// CanGrantConsent reports whether the person holds a directory role that
// may grant our app admin consent (ConsentRoles).
func (i Identity) CanGrantConsent() bool {
	return slices.ContainsFunc(i.DirectoryRoles, func(r string) bool {
		return slices.ContainsFunc(ConsentRoles, func(c string) bool { return strings.EqualFold(r, c) })
	})
}

// SignInOptions shape a person's sign-in.
type SignInOptions struct {
	// LoginHint prefills the account.
	LoginHint string
	// Fresh demands that the person enter their credentials again, even
	// with a session at Microsoft (prompt=login).
	Fresh bool
	// MaxAge, when positive, demands credentials entered at most this long
	// ago (max_age, in seconds; OpenID Connect Core 3.1.2.1).
	MaxAge time.Duration
	// Tenant, when set, is the one organization (domain or tenant id) to
	// sign in at instead of SignInAuthority: the console's single sign-on
	// against the vendor's own tenant, whose app registration may be
	// single-tenant, which the multi-tenant authority refuses (AADSTS50194;
	// docs/identity.md#staff-single-sign-on).
	// The identity platform then turns away accounts of other organizations
	// itself; the caller still checks the ID token's tid.
	Tenant string
}

// FreshFor is how recent a person's sign-in must be before one of our
// pages reveals a secret or creates a key (issue 13): the portal and the
// onboarding summary both ask for credentials entered again beyond it.
const FreshFor = 10 * time.Minute

// Fresh reports whether credentials entered at authTime are at most
// FreshFor old at now.
func Fresh(authTime, now time.Time) bool {
	return !authTime.IsZero() && now.Sub(authTime) <= FreshFor
}

// Reauthenticate are the options of a sign-in that makes a stale one
// fresh: credentials entered now (prompt=login, max_age), as hint.
func Reauthenticate(hint string) SignInOptions {
	return SignInOptions{LoginHint: hint, Fresh: true, MaxAge: FreshFor}
}

// PersonSignIn starts an OpenID Connect sign-in (authorization code, PKCE
// S256, nonce) at the multi-tenant authority (or o.Tenant's), for our own
// pages: onboarding, the portal and the console. Keep the SignIn server
// side until the callback.
func (c *Client) PersonSignIn(app App, redirectURI, state string, o SignInOptions) SignIn {
	si := SignIn{Verifier: oauth2.GenerateVerifier(), Nonce: oauth2.GenerateVerifier(), Tenant: o.Tenant}
	cfg := c.signInConfig(app, redirectURI, si.Tenant)
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(si.Verifier), oauth2.SetAuthURLParam("nonce", si.Nonce),
		oauth2.SetAuthURLParam("response_mode", "query")}
	if o.LoginHint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", o.LoginHint))
	}
	if o.Fresh {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "login"))
	}
	if o.MaxAge > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("max_age", strconv.Itoa(int(o.MaxAge/time.Second))))
	}
	si.URL = cfg.AuthCodeURL(state, opts...)
	return si
}

// signInConfig is a person's sign-in at tenant's authority
// (SignInAuthority when empty).
func (c *Client) signInConfig(app App, redirectURI, tenant string) *oauth2.Config {
	if tenant == "" {
		tenant = SignInAuthority
	}
	return &oauth2.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret, Endpoint: c.endpoint(tenant),
		RedirectURL: redirectURI, Scopes: SignInScopes}
}

// FinishPersonSignIn redeems the callback's code with the PKCE verifier at
// the authority the sign-in started at (si.Tenant) and verifies the ID
// token (VerifyIDToken).
func (c *Client) FinishPersonSignIn(ctx context.Context, app App, redirectURI, code string, si SignIn) (Identity, error) {
	tok, err := c.signInConfig(app, redirectURI, si.Tenant).Exchange(c.ctx(ctx), code, oauth2.VerifierOption(si.Verifier))
	if err != nil {
		return Identity{}, classify(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, &Error{Class: Invalid, Code: "invalid_id_token", Summary: "the token response has no ID token"}
	}
	return c.VerifyIDToken(ctx, app, raw, si.Nonce)
}

// VerifyIDToken checks an ID token the way Microsoft documents for a
// multi-tenant app: signature by a key of the authority's JWKS, audience
// our client id, not expired, our nonce, and an issuer equal to the
// discovery document's template with {tenantid} replaced by the token's own
// tid (https://learn.microsoft.com/en-us/entra/identity-platform/access-tokens#validate-the-issuer;
// docs/identity.md#people-signing-in). A fixed-issuer check (what an OIDC
// library does by default) cannot work here: every tenant's issuer differs.
func (c *Client) VerifyIDToken(ctx context.Context, app App, raw, nonce string) (Identity, error) {
	refuse := func(why string) (Identity, error) {
		return Identity{}, &Error{Class: Invalid, Code: "invalid_id_token", Summary: "the ID token was refused: " + why}
	}
	p, err := c.provider(ctx)
	if err != nil {
		return Identity{}, err
	}
	var cl idClaims
	_, err = jwt.ParseWithClaims(raw, &cl, p.keyfunc(ctx), jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithAudience(app.ClientID), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithTimeFunc(c.now), jwt.WithLeeway(idTokenLeeway))
	if errors.Is(err, errKeysUnavailable) {
		return Identity{}, &Error{Class: Transient, Code: "keys_unavailable", Summary: "the identity platform's signing keys could not be read"}
	}
	if err != nil {
		return refuse(err.Error())
	}
	if nonce == "" || subtle.ConstantTimeCompare([]byte(cl.Nonce), []byte(nonce)) != 1 {
		return refuse("its nonce does not match this sign-in")
	}
	var id Identity
	if id.TenantID, err = claimID("invalid_id_token", "the ID token", "tid", cl.TenantID); err != nil {
		return Identity{}, err
	}
	if want := strings.ReplaceAll(p.issuerTemplate, "{tenantid}", id.TenantID.String()); cl.Issuer != want {
		return refuse(fmt.Sprintf("its issuer %q is not its tenant's (%q)", cl.Issuer, want))
	}
	if id.ObjectID, err = claimID("invalid_id_token", "the ID token", "oid", cl.ObjectID); err != nil {
		return Identity{}, err
	}
	id.Username, id.Name, id.DirectoryRoles = cl.PreferredUsername, cl.Name, cl.Wids
	if id.Username == "" {
		id.Username = cl.UPN
	}
	if cl.IssuedAt != nil {
		id.AuthTime = cl.IssuedAt.Time
	}
	if cl.AuthTime > 0 {
		id.AuthTime = time.Unix(cl.AuthTime, 0)
	}
	return id, nil
}

// idTokenLeeway tolerates clock skew between us and the identity platform.
const idTokenLeeway = 5 * time.Minute

type idClaims struct {
	jwt.RegisteredClaims
	Nonce             string   `json:"nonce"`
	TenantID          string   `json:"tid"`
	ObjectID          string   `json:"oid"`
	PreferredUsername string   `json:"preferred_username"`
	UPN               string   `json:"upn"`
	Name              string   `json:"name"`
	AuthTime          int64    `json:"auth_time"`
	Wids              []string `json:"wids"`
}

// provider is the multi-tenant authority's OpenID configuration, read
// once, and its signing keys, read again when a token names a key not
// seen yet (Microsoft rotates them), at most once a minute.
type provider struct {
	issuerTemplate string
	jwksURI        string
	hc             *http.Client

	mu      sync.Mutex
	keys    keyfunc.Keyfunc
	fetched time.Time
}

type providerCache struct {
	mu sync.Mutex
	p  *provider
}

var errKeysUnavailable = errors.New("signing keys unavailable")

// keyfunc finds a token's key by kid, reading the key set again when the
// kid is unknown.
func (p *provider) keyfunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.keys != nil {
			if k, err := p.keys.Keyfunc(t); err == nil || time.Since(p.fetched) < time.Minute {
				return k, err
			}
		}
		if err := p.fetchKeysLocked(ctx); err != nil {
			return nil, fmt.Errorf("%w: %v", errKeysUnavailable, err)
		}
		return p.keys.Keyfunc(t)
	}
}

func (p *provider) fetchKeysLocked(ctx context.Context) error {
	b, err := getJSON(ctx, p.hc, p.jwksURI)
	if err != nil {
		return err
	}
	k, err := keyfunc.NewJWKSetJSON(b)
	if err != nil {
		return err
	}
	p.keys, p.fetched = k, time.Now()
	return nil
}

// provider discovers the authority's configuration on first use; a
// failure is not kept, so the next sign-in tries again.
func (c *Client) provider(ctx context.Context) (*provider, error) {
	c.oidc.mu.Lock()
	defer c.oidc.mu.Unlock()
	if c.oidc.p != nil {
		return c.oidc.p, nil
	}
	b, err := getJSON(ctx, c.hc, c.login+"/"+SignInAuthority+"/v2.0/.well-known/openid-configuration")
	if err != nil {
		return nil, &Error{Class: Transient, Code: "discovery_failed", Summary: "the identity platform's OpenID configuration could not be read: " + err.Error()}
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.JWKSURI == "" || !strings.Contains(doc.Issuer, "{tenantid}") {
		return nil, &Error{Class: Invalid, Code: "discovery_failed",
			Summary: fmt.Sprintf("the OpenID configuration of %s has no multi-tenant issuer template and key set (issuer %q)", SignInAuthority, doc.Issuer)}
	}
	c.oidc.p = &provider{issuerTemplate: doc.Issuer, jwksURI: doc.JWKSURI, hc: c.hc}
	return c.oidc.p, nil
}

// getJSON reads a JSON document of the identity platform.
func getJSON(ctx context.Context, hc *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &httpStatusError{resp.StatusCode}
	}
	return b, nil
}

type httpStatusError struct{ status int }

func (e *httpStatusError) Error() string { return "answered " + http.StatusText(e.status) }

// ErrUnknownTenant means the identity platform knows no tenant by that
// domain or id.
var ErrUnknownTenant = errors.New("no Microsoft tenant has that domain or id")

// TenantIDOf resolves a verified domain (or a tenant id) to the tenant's
// id from its OpenID configuration, whose issuer names it
// (https://login.microsoftonline.com/{domain}/v2.0/.well-known/openid-configuration;
// docs/identity.md#people-signing-in).
func (c *Client) TenantIDOf(ctx context.Context, tenant string) (uuid.UUID, error) {
	if id, err := uuid.Parse(tenant); err == nil {
		return id, nil
	}
	b, err := getJSON(ctx, c.hc, c.login+"/"+url.PathEscape(tenant)+"/v2.0/.well-known/openid-configuration")
	var st *httpStatusError
	switch {
	case errors.As(err, &st) && (st.status == http.StatusBadRequest || st.status == http.StatusNotFound):
		return uuid.Nil, ErrUnknownTenant
	case err != nil:
		return uuid.Nil, &Error{Class: Transient, Code: "discovery_failed", Summary: err.Error()}
	}
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return uuid.Nil, &Error{Class: Transient, Code: "discovery_failed", Summary: err.Error()}
	}
	rest, ok := strings.CutPrefix(doc.Issuer, c.login+"/")
	seg, _, _ := strings.Cut(rest, "/")
	id, err := uuid.Parse(seg)
	if !ok || err != nil {
		return uuid.Nil, fmt.Errorf("identity: the OpenID configuration of %s names issuer %q", tenant, doc.Issuer)
	}
	return id, nil
}
