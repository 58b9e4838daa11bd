// Package apikeys issues and revokes a tenant's API keys — for the tenant
// API, the tenant pages and onboarding alike — with the same checks and
// the same audit entries (never the key itself: only its hash is kept,
// and the key is shown once, to whoever created it).
package apikeys

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// MaxName is the longest name a key may have.
const MaxName = 100

// Invalid is a key that cannot be made as asked: Field names what is
// wrong ("name", "scopes", "expiresAt"), Message says why in a sentence
// for the person who asked.
type Invalid struct {
	Field   string
	Message string
}

func (e *Invalid) Error() string { return e.Field + ": " + e.Message }

// New is a key to make: what it is for, what it may do, until when (nil:
// no end).
type New struct {
	Name      string
	Scopes    []string
	ExpiresAt *time.Time
}

// Check returns an *Invalid for a key that cannot be made at now.
func (n New) Check(now time.Time) error {
	switch {
	case n.Name == "":
		return &Invalid{"name", "Name the key after what uses it, such as \"contact center production\"."}
	case len(n.Name) > MaxName:
		return &Invalid{"name", fmt.Sprintf("Use at most %d characters.", MaxName)}
	case !store.Storable(n.Name):
		return &Invalid{"name", store.NotText}
	case len(n.Scopes) == 0:
		return &Invalid{"scopes", "Choose at least one thing the key may do."}
	case n.ExpiresAt != nil && !n.ExpiresAt.After(now):
		return &Invalid{"expiresAt", "Choose an expiry in the future, or none."}
	}
	for i, s := range n.Scopes {
		if !slices.Contains(store.AllScopes, s) {
			return &Invalid{"scopes", fmt.Sprintf("%q is not a scope.", s)}
		}
		if slices.Contains(n.Scopes[:i], s) {
			return &Invalid{"scopes", fmt.Sprintf("%q is given twice.", s)}
		}
	}
	return nil
}

// Create makes a key for a tenant and audits it; it returns the key in
// full, the only time anyone sees it, with its row.
func Create(ctx context.Context, st *store.Store, tenant uuid.UUID, n New, actor string) (string, store.APIKey, error) {
	if err := n.Check(time.Now()); err != nil {
		return "", store.APIKey{}, err
	}
	var secret string
	var k store.APIKey
	err := st.InTx(ctx, func(tx store.Tx) error {
		var err error
		secret, k, err = tx.CreateAPIKey(ctx, tenant, store.NewAPIKey{Name: n.Name, Scopes: n.Scopes, ExpiresAt: n.ExpiresAt, CreatedBy: actor})
		if err != nil {
			return err
		}
		return tx.Audit(ctx, &tenant, actor, "api_key.created",
			map[string]any{"id": k.ID, "name": k.Name, "prefix": k.Prefix, "scopes": k.Scopes, "expiresAt": k.ExpiresAt})
	})
	if err != nil {
		return "", store.APIKey{}, fmt.Errorf("create api key: %w", err)
	}
	return secret, k, nil
}

// Revoke stops a tenant's key working, at once and for good (revoking a
// revoked key changes nothing), audits it, and returns the key as it now
// is; store.ErrAPIKeyNotFound when the tenant has no such key.
func Revoke(ctx context.Context, st *store.Store, tenant, id uuid.UUID, actor string) (store.APIKey, error) {
	var k store.APIKey
	err := st.InTx(ctx, func(tx store.Tx) error {
		var err error
		if k, err = tx.RevokeAPIKey(ctx, tenant, id); err != nil {
			return err
		}
		return tx.Audit(ctx, &tenant, actor, "api_key.revoked", map[string]any{"id": k.ID, "name": k.Name, "prefix": k.Prefix})
	})
	if err != nil {
		return store.APIKey{}, fmt.Errorf("revoke api key %s: %w", id, err)
	}
	return k, nil
}

// Status is a key's state at now: active, expired or revoked.
func Status(k store.APIKey, now time.Time) string {
	switch {
	case k.RevokedAt != nil:
		return "revoked"
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return "expired"
	}
	return "active"
}
