package notification

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// ChangeTrackingAppID is Microsoft Graph Change Tracking, the service that
// signs validation tokens (docs/graph.md#validation-tokens: claim appid in v1 tokens, azp in v2).
const ChangeTrackingAppID = "0bf30f3b-4a52-48df-9a82-234910c4a086"

// ErrInvalidToken means a validationToken failed a check: the whole POST
// is suspect and none of its items may be used.
var ErrInvalidToken = errors.New("notification: invalid validation token")

// ErrKeysUnavailable means the identity platform's signing keys could not
// be loaded yet: nothing can be judged, so keep the notifications and
// retry rather than drop them.
var ErrKeysUnavailable = errors.New("notification: the identity platform's signing keys are not available")

// Validator checks the validationTokens of rich notifications (docs/graph.md#validation-tokens):
// signature by the identity platform's keys (JWKS, cached and refreshed by
// keyfunc), not expired, issued to Graph Change Tracking, by the tenant it
// names, for the app that made that tenant's subscriptions.
type Validator struct {
	keys      keyfunc.Keyfunc
	login     string
	audiences []string
	now       func() time.Time

	// verified remembers what a token already verified said, until it
	// expires: Graph sends the same token for an app and tenant in every
	// POST for hours, and at a million users a POST carries items (so
	// tokens) of dozens of tenants — their RS256 checks and claim parsing
	// were 4.2 % of serve's CPU at 100,000 users (issue 16). Bounded: when
	// full, it forgets everything and fills again.
	mu       sync.Mutex
	verified map[[sha256.Size]byte]verifiedToken
}

// verifiedToken is what verify returned for a token, and when that stops
// being true.
type verifiedToken struct {
	tid     string
	aud     []string
	expires time.Time
}

// maxVerified bounds Validator.verified: a token for each app and tenant,
// with room for Graph's replacing them over an hour.
const maxVerified = 8192

// ValidatorOptions configure a Validator.
type ValidatorOptions struct {
	// LoginURL is the identity platform (default
	// https://login.microsoftonline.com); its common JWKS signs the tokens
	// and its v2 issuer form is accepted beside https://sts.windows.net/.
	LoginURL string
	// Audiences are our app's ids: the audience of the tokens of tenants
	// that use our app registration (an Expect without AppID). A tenant's
	// own app is not listed here: Check is told it, for that tenant only.
	Audiences []string
	Now       func() time.Time
}

// Expect is one tenant a POST's items come from, with the app whose
// subscriptions they come from: Graph sends one token per app and tenant
// (docs/graph.md#validation-tokens), whose audience is that app.
type Expect struct {
	TenantID string // Microsoft's tenant id
	// AppID is the tenant's own app registration (its client id); "" for
	// ours (ValidatorOptions.Audiences).
	AppID string
	// Rich means the POST has rich items of this tenant that are to be
	// trusted: a valid token for the tenant and its app must be among the
	// POST's. Without it a token for the tenant is allowed, not required.
	Rich bool
}

// NewValidator fetches the identity platform's keys and keeps them fresh
// until ctx ends.
func NewValidator(ctx context.Context, opts ValidatorOptions) (*Validator, error) {
	login := strings.TrimSuffix(opts.LoginURL, "/")
	if login == "" {
		login = "https://login.microsoftonline.com"
	}
	k, err := keyfunc.NewDefaultCtx(ctx, []string{login + "/common/discovery/v2.0/keys"})
	if err != nil {
		return nil, fmt.Errorf("notification: identity platform keys: %w", err)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Validator{keys: k, login: login, audiences: opts.Audiences, now: opts.Now}, nil
}

// Check validates a POST's tokens against the tenants its items come from.
// Every token must be valid and name one of the expected tenants with
// that tenant's app as its audience — a token of one tenant's app never
// vouches for the items of a tenant on another app — and every tenant with
// rich items must have its token. One failure makes the whole POST
// suspect. A POST carrying rich items but no tokens fails: Graph sends
// them for every rich notification unless the tenant's app setup is
// broken (docs/graph.md#rich-notifications).
func (v *Validator) Check(tokens []string, expect []Expect) error {
	if keys, err := v.keys.Storage().KeyReadAll(context.Background()); err != nil || len(keys) == 0 {
		return ErrKeysUnavailable
	}
	if len(tokens) == 0 {
		return fmt.Errorf("%w: none given", ErrInvalidToken)
	}
	vouched := make([]bool, len(expect))
	for i, raw := range tokens {
		tid, aud, err := v.verify(raw)
		if err != nil {
			return fmt.Errorf("%w: token %d: %v", ErrInvalidToken, i, err)
		}
		named, matched := false, false
		for j, e := range expect {
			if !strings.EqualFold(e.TenantID, tid) {
				continue
			}
			named = true
			if v.forApp(aud, e.AppID) {
				vouched[j], matched = true, true
			}
		}
		switch {
		case !named:
			return fmt.Errorf("%w: token %d: tenant %q is not the notifications' tenant", ErrInvalidToken, i, tid)
		case !matched:
			return fmt.Errorf("%w: token %d: audience %v is not the app of tenant %s", ErrInvalidToken, i, aud, tid)
		}
	}
	for j, e := range expect {
		if e.Rich && !vouched[j] {
			return fmt.Errorf("%w: no token for tenant %s", ErrInvalidToken, e.TenantID)
		}
	}
	return nil
}

// forApp says whether a token's audience is app, or ours for "".
func (v *Validator) forApp(aud []string, app string) bool {
	want := v.audiences
	if app != "" {
		want = []string{app}
	}
	return slices.ContainsFunc(aud, func(a string) bool {
		return slices.ContainsFunc(want, func(x string) bool { return strings.EqualFold(a, x) })
	})
}

// verify checks what makes a token Microsoft's for some tenant, and
// returns that tenant and the token's audience; a token verified before is
// taken from memory until it expires (with the same leeway).
func (v *Validator) verify(raw string) (tid string, aud []string, err error) {
	sum := sha256.Sum256([]byte(raw))
	now := v.now()
	v.mu.Lock()
	c, ok := v.verified[sum]
	v.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.tid, c.aud, nil
	}
	tid, aud, exp, err := v.verifySignature(raw)
	if err != nil {
		return "", nil, err
	}
	v.mu.Lock()
	if v.verified == nil || len(v.verified) >= maxVerified {
		v.verified = make(map[[sha256.Size]byte]verifiedToken)
	}
	v.verified[sum] = verifiedToken{tid: tid, aud: aud, expires: exp.Add(tokenLeeway)}
	v.mu.Unlock()
	return tid, aud, nil
}

// tokenLeeway is the clock skew allowed on a token's times.
const tokenLeeway = 5 * time.Minute

// verifySignature is verify without memory; it also returns the token's
// expiry.
func (v *Validator) verifySignature(raw string) (tid string, aud []string, exp time.Time, err error) {
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(raw, claims, v.keys.Keyfunc, jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithTimeFunc(v.now), jwt.WithExpirationRequired(), jwt.WithLeeway(tokenLeeway))
	if err != nil {
		return "", nil, time.Time{}, err
	}
	caller, _ := claims["appid"].(string)
	if ver, _ := claims["ver"].(string); ver == "2.0" {
		caller, _ = claims["azp"].(string)
	}
	if !strings.EqualFold(caller, ChangeTrackingAppID) {
		return "", nil, time.Time{}, fmt.Errorf("issued to %q, not Graph Change Tracking", caller)
	}
	tid, _ = claims["tid"].(string)
	iss, _ := claims.GetIssuer()
	if tid == "" || (!strings.EqualFold(iss, "https://sts.windows.net/"+tid+"/") && !strings.EqualFold(iss, v.login+"/"+tid+"/v2.0")) {
		return "", nil, time.Time{}, fmt.Errorf("issuer %q is not the identity platform's for tenant %q", iss, tid)
	}
	aud, _ = claims.GetAudience()
	e, err := claims.GetExpirationTime()
	if err != nil || e == nil { // WithExpirationRequired has refused these already
		return "", nil, time.Time{}, fmt.Errorf("no expiry: %v", err)
	}
	return tid, aud, e.Time, nil
}
