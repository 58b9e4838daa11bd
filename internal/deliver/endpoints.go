package deliver

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// Managing a tenant's endpoints — adding one, changing its settings,
// rotating its signing secret, revealing it — the one way the tenant API
// and the tenant pages both do it: the same checks (CheckURL, the
// description's length) and the same audit entries, which never hold a
// secret and keep only the URL's host (its path or query may hold a token
// the receiver checks).

// MaxDescription is the longest description an endpoint may have.
const MaxDescription = 500

// A rotation's overlap: a day unless asked otherwise, and at most a week —
// time enough to roll a new secret out to every receiver, while a leaked
// old secret stops working within it.
const (
	DefaultOverlap = 24 * time.Hour
	MaxOverlap     = 7 * 24 * time.Hour
)

// Invalid is a setting an endpoint cannot have: Field names it ("url",
// "description"), Message says why, in a sentence for the person who
// typed it.
type Invalid struct {
	Field   string
	Message string
}

func (e *Invalid) Error() string { return e.Field + ": " + e.Message }

// Settings are what may be changed of an endpoint.
type Settings struct {
	URL         string
	Description string
	Enabled     bool
}

// Check returns an *Invalid for settings an endpoint cannot have. Loopback
// URLs pass only when allowLoopback (development and tests).
func (s Settings) Check(allowLoopback bool) error {
	if !store.Storable(s.URL) {
		return &Invalid{Field: "url", Message: store.NotText}
	}
	if err := CheckURL(s.URL, allowLoopback); err != nil {
		return &Invalid{Field: "url", Message: err.Error()}
	}
	if !store.Storable(s.Description) {
		return &Invalid{Field: "description", Message: store.NotText}
	}
	if len(s.Description) > MaxDescription {
		return &Invalid{Field: "description", Message: fmt.Sprintf("Use at most %d characters.", MaxDescription)}
	}
	return nil
}

// AddEndpoint gives a tenant a new, enabled endpoint with a new signing
// secret, and returns both: the secret is for whoever added it, once.
func AddEndpoint(ctx context.Context, st *store.Store, tenant uuid.UUID, s Settings, actor string, allowLoopback bool) (store.Endpoint, string, error) {
	if err := s.Check(allowLoopback); err != nil {
		return store.Endpoint{}, "", err
	}
	secret, err := NewSecret()
	if err != nil {
		return store.Endpoint{}, "", err
	}
	var e store.Endpoint
	err = st.InTx(ctx, func(tx store.Tx) error {
		var err error
		if e, err = tx.AddEndpoint(ctx, tenant, store.NewEndpoint{URL: s.URL, Description: s.Description, Secret: secret}); err != nil {
			return err
		}
		return tx.Audit(ctx, &tenant, actor, "endpoint.created", map[string]any{"endpoint": e.ID, "host": Host(e.URL)})
	})
	if err != nil {
		return store.Endpoint{}, "", fmt.Errorf("add endpoint: %w", err)
	}
	return e, secret, nil
}

// ChangeEndpoint gives the endpoint cur (locked in tx by the caller) the
// settings next, changing only what differs, and audits what changed.
// Disabling ends its pending deliveries as dead, with why as the reason
// the endpoint shows.
func ChangeEndpoint(ctx context.Context, tx store.Tx, cur store.Endpoint, next Settings, actor, why string, allowLoopback bool) error {
	if err := next.Check(allowLoopback); err != nil {
		return err
	}
	changed := map[string]any{}
	if next.URL != cur.URL || next.Description != cur.Description {
		if _, err := tx.UpdateEndpoint(ctx, cur.TenantID, cur.ID, next.URL, next.Description); err != nil {
			return err
		}
		changed["host"], changed["description"] = Host(next.URL), next.Description
	}
	var err error
	switch {
	case next.Enabled && !cur.Enabled:
		_, err = tx.EnableEndpoint(ctx, cur.TenantID, cur.ID)
	case !next.Enabled && cur.Enabled:
		err = tx.DisableEndpoint(ctx, cur.ID, why)
	}
	if err != nil {
		return err
	}
	if next.Enabled != cur.Enabled {
		changed["enabled"] = next.Enabled
	}
	if len(changed) == 0 {
		return nil
	}
	changed["endpoint"] = cur.ID
	return tx.Audit(ctx, &cur.TenantID, actor, "endpoint.updated", changed)
}

// RotateSecret gives a tenant's endpoint a new signing secret, the old one
// signing beside it for overlap (at most MaxOverlap; zero: it stops at
// once), audits it, and returns the new secret with the endpoint as it
// now is.
func RotateSecret(ctx context.Context, st *store.Store, tenant, endpoint uuid.UUID, overlap time.Duration, actor string) (string, store.Endpoint, error) {
	overlap = max(0, min(overlap, MaxOverlap))
	secret, err := NewSecret()
	if err != nil {
		return "", store.Endpoint{}, err
	}
	var e store.Endpoint
	err = st.InTx(ctx, func(tx store.Tx) error {
		var err error
		if e, err = tx.RotateEndpointSecret(ctx, tenant, endpoint, secret, overlap); err != nil {
			return err
		}
		return tx.Audit(ctx, &tenant, actor, "endpoint.secret_rotated",
			map[string]any{"endpoint": endpoint, "overlapSeconds": int64(overlap / time.Second)})
	})
	if err != nil {
		return "", store.Endpoint{}, fmt.Errorf("rotate secret of endpoint %s: %w", endpoint, err)
	}
	return secret, e, nil
}

// RevealSecret opens a tenant's endpoint's current signing secret for
// someone who asked to see it, and records that they did.
func RevealSecret(ctx context.Context, st *store.Store, tenant, endpoint uuid.UUID, actor string) (string, error) {
	var secret []byte
	err := st.InTx(ctx, func(tx store.Tx) error {
		e, err := tx.GetEndpoint(ctx, tenant, endpoint)
		if err != nil {
			return err
		}
		if secret, err = tx.OpenSecret(ctx, &tenant, e.SecretID, store.PurposeSigningSecret); err != nil {
			return err
		}
		return tx.Audit(ctx, &tenant, actor, "endpoint.secret_revealed", map[string]any{"endpoint": endpoint, "host": Host(e.URL)})
	})
	if err != nil {
		return "", fmt.Errorf("reveal secret of endpoint %s: %w", endpoint, err)
	}
	return string(secret), nil
}

// Host is what the audit log keeps of an endpoint's URL.
func Host(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}
