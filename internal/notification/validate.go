package notification

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
// keyfunc), not expired, audience one of our app ids, issued to Graph
// Change Tracking, by the notification's tenant.
type Validator struct {
	keys      keyfunc.Keyfunc
	login     string
	audiences []string
	now       func() time.Time
}

// ValidatorOptions configure a Validator.
type ValidatorOptions struct {
	// LoginURL is the identity platform (default
	// https://login.microsoftonline.com); its common JWKS signs the tokens
	// and its v2 issuer form is accepted beside https://sts.windows.net/.
	LoginURL string
	// Audiences are our app ids (ours, and tenants' own apps).
	Audiences []string
	Now       func() time.Time
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

// Check validates every token against the tenants the POST's items name.
// A POST carrying rich items but no tokens fails: Graph sends them for
// every rich notification unless the tenant's app setup is broken (docs/graph.md#rich-notifications).
func (v *Validator) Check(tokens []string, tenants []string) error {
	if keys, err := v.keys.Storage().KeyReadAll(context.Background()); err != nil || len(keys) == 0 {
		return ErrKeysUnavailable
	}
	if len(tokens) == 0 {
		return fmt.Errorf("%w: none given", ErrInvalidToken)
	}
	for i, raw := range tokens {
		if err := v.check(raw, tenants); err != nil {
			return fmt.Errorf("%w: token %d: %v", ErrInvalidToken, i, err)
		}
	}
	return nil
}

func (v *Validator) check(raw string, tenants []string) error {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, v.keys.Keyfunc, jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithTimeFunc(v.now), jwt.WithExpirationRequired(), jwt.WithLeeway(5*time.Minute))
	if err != nil {
		return err
	}
	aud, _ := claims.GetAudience()
	if !slices.ContainsFunc(aud, func(a string) bool {
		return slices.ContainsFunc(v.audiences, func(x string) bool { return strings.EqualFold(a, x) })
	}) {
		return fmt.Errorf("audience %v is not ours", aud)
	}
	caller, _ := claims["appid"].(string)
	if ver, _ := claims["ver"].(string); ver == "2.0" {
		caller, _ = claims["azp"].(string)
	}
	if !strings.EqualFold(caller, ChangeTrackingAppID) {
		return fmt.Errorf("issued to %q, not Graph Change Tracking", caller)
	}
	tid, _ := claims["tid"].(string)
	if !slices.ContainsFunc(tenants, func(t string) bool { return strings.EqualFold(t, tid) }) {
		return fmt.Errorf("tenant %q is not the notifications' tenant", tid)
	}
	iss, _ := claims.GetIssuer()
	if !strings.EqualFold(iss, "https://sts.windows.net/"+tid+"/") && !strings.EqualFold(iss, v.login+"/"+tid+"/v2.0") {
		return fmt.Errorf("issuer %q is not the identity platform's for tenant %s", iss, tid)
	}
	return nil
}
