package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"presencebridge/internal/apikeys"
	"presencebridge/internal/store"
)

// API keys: listed (never their secrets), created with scopes and an
// optional expiry (the secret shown once, in the creation's answer) and
// revoked. Managing keys needs the admin scope; each change is audited
// under the calling key's id.

// apiKey is a key as the API shows it.
type apiKey struct {
	ID         uuid.UUID  `json:"id" format:"uuid"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix" doc:"The key's first characters (pbk_<prefix>_…), to tell keys apart."`
	Scopes     []string   `json:"scopes" enum:"events:read,presence:read,presence:write,users:write,admin"`
	Status     string     `json:"status" enum:"active,expired,revoked"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty" doc:"When the key last authenticated a request, to the minute."`
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
}

func toAPIKey(k store.APIKey, now time.Time) apiKey {
	status := "active"
	switch {
	case k.RevokedAt != nil:
		status = "revoked"
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		status = "expired"
	}
	return apiKey{ID: k.ID, Name: k.Name, Prefix: "pbk_" + k.Prefix, Scopes: k.Scopes, Status: status,
		CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt}
}

type keyList struct{ Body list[apiKey] }

type keyOutput struct{ Body apiKey }

type createKeyInput struct {
	Body struct {
		Name      string     `json:"name" minLength:"1" maxLength:"100" doc:"What the key is for, e.g. \"contact center production\"."`
		Scopes    []string   `json:"scopes" minItems:"1" uniqueItems:"true" enum:"events:read,presence:read,presence:write,users:write,admin"`
		ExpiresAt *time.Time `json:"expiresAt,omitempty" doc:"When the key stops working; absent: never."`
	}
}

type createdKey struct {
	Body struct {
		Key    string `json:"key" doc:"The secret key, shown this once: store it now. Only its hash is kept."`
		APIKey apiKey `json:"apiKey"`
	}
}

func (d Deps) registerKeys(api huma.API) {
	register(api, operation("list-api-keys", http.MethodGet, "/api-keys", "List API keys", store.ScopeAdmin, "API keys"),
		func(ctx context.Context, _ *struct{}) (*keyList, error) {
			k := keyOf(ctx)
			keys, err := d.Store.APIKeys(ctx, k.TenantID)
			if err != nil {
				return nil, d.unavailable(ctx, "list api keys", err)
			}
			out := &keyList{Body: list[apiKey]{Data: make([]apiKey, 0, len(keys))}}
			now := time.Now()
			for _, k := range keys {
				out.Body.Data = append(out.Body.Data, toAPIKey(k, now))
			}
			return out, nil
		})

	op := operation("create-api-key", http.MethodPost, "/api-keys", "Create an API key", store.ScopeAdmin, "API keys")
	op.DefaultStatus = http.StatusCreated
	op.Description = "The answer holds the secret key, once. A key may hold any scopes; `admin` holds them all."
	register(api, op, func(ctx context.Context, in *createKeyInput) (*createdKey, error) {
		caller := keyOf(ctx)
		secret, k, err := apikeys.Create(ctx, d.Store, caller.TenantID,
			apikeys.New{Name: in.Body.Name, Scopes: in.Body.Scopes, ExpiresAt: in.Body.ExpiresAt}, actor(caller))
		var bad *apikeys.Invalid
		if errors.As(err, &bad) {
			return nil, huma.Error422UnprocessableEntity(bad.Field+": "+bad.Message,
				&huma.ErrorDetail{Location: "body." + bad.Field, Message: bad.Message})
		}
		if err != nil {
			return nil, d.unavailable(ctx, "create api key", err)
		}
		out := &createdKey{}
		out.Body.Key, out.Body.APIKey = secret, toAPIKey(k, time.Now())
		return out, nil
	})

	op = operation("get-api-key", http.MethodGet, "/api-keys/{id}", "Get an API key", store.ScopeAdmin, "API keys")
	op.Errors = append(op.Errors, http.StatusNotFound)
	register(api, op, func(ctx context.Context, in *idParam) (*keyOutput, error) {
		id, ok := in.parse()
		if !ok {
			return nil, errNoKey()
		}
		k, err := d.Store.GetAPIKey(ctx, keyOf(ctx).TenantID, id)
		if errors.Is(err, store.ErrAPIKeyNotFound) {
			return nil, errNoKey()
		}
		if err != nil {
			return nil, d.unavailable(ctx, "get api key", err)
		}
		return &keyOutput{Body: toAPIKey(k, time.Now())}, nil
	})

	op = operation("revoke-api-key", http.MethodDelete, "/api-keys/{id}", "Revoke an API key", store.ScopeAdmin, "API keys")
	op.Description = "The key stops working at once, for good. Revoking a revoked key changes nothing. The answer is the key as it now is."
	op.Errors = append(op.Errors, http.StatusNotFound)
	register(api, op, func(ctx context.Context, in *idParam) (*keyOutput, error) {
		caller := keyOf(ctx)
		id, ok := in.parse()
		if !ok {
			return nil, errNoKey()
		}
		k, err := apikeys.Revoke(ctx, d.Store, caller.TenantID, id, actor(caller))
		if errors.Is(err, store.ErrAPIKeyNotFound) {
			return nil, errNoKey()
		}
		if err != nil {
			return nil, d.unavailable(ctx, "revoke api key", err)
		}
		// Every instance forgets the tenant's keys when the revocation's
		// NOTIFY arrives; this one need not wait for it.
		d.Keys.Evict(caller.TenantID)
		return &keyOutput{Body: toAPIKey(k, time.Now())}, nil
	})
}

func errNoKey() error { return huma.Error404NotFound("No API key of this tenant has that id.") }

// unavailable logs a failure the client cannot act on and answers 503 with
// Retry-After: the request may succeed when retried.
func (d Deps) unavailable(ctx context.Context, op string, err error) error {
	d.Logger.ErrorContext(ctx, "api: "+op, "err", err)
	return huma.ErrorWithHeaders(huma.Error503ServiceUnavailable("The service could not complete the request just now. Try again shortly."),
		http.Header{"Retry-After": {"5"}})
}
