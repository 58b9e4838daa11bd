package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"presencebridge/internal/store"
)

// authCtx holds the request's *authenticated: one context value, not one
// for the key and one for its secret (each value is a context and a huma
// context more for every request).
type authCtx struct{}

type authenticated struct {
	key    store.APIKey
	secret string
}

// keyOf is the API key the request authenticated with.
func keyOf(ctx context.Context) store.APIKey { return ctx.Value(authCtx{}).(*authenticated).key }

// secretOf is the secret of that key, for a request that checks it again
// while it lasts (the event stream).
func secretOf(ctx context.Context) string { return ctx.Value(authCtx{}).(*authenticated).secret }

// keyWorks checks secret again, for an operation that needs scope: false
// only when the key no longer works or lacks the scope. When the database
// cannot judge it, a request under way goes on.
func (d Deps) keyWorks(ctx context.Context, secret, scope string) bool {
	k, err := d.Keys.Authenticate(ctx, secret)
	if errors.Is(err, store.ErrBadAPIKey) {
		return false
	}
	return err != nil || k.Has(scope)
}

// requiredScope is the scope an operation names (none: it is public, as
// the API's description is).
func requiredScope(op *huma.Operation) string {
	for _, req := range op.Security {
		for _, scopes := range req {
			if len(scopes) > 0 {
				return scopes[0]
			}
		}
	}
	return ""
}

// authenticate checks the API key of every operation that needs a scope,
// from the key cache (Deps.Keys) in the steady state: a missing, unknown,
// revoked or expired key, or one of a suspended or deleted tenant, is 401;
// a key without the operation's scope is 403 naming it. When the database
// cannot judge the key the answer is 503 with Retry-After: a 401 would
// tell the platform its key is bad, and it might discard a good one.
func (d Deps) authenticate(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		scope := requiredScope(ctx.Operation())
		if scope == "" {
			next(ctx)
			return
		}
		secret, ok := trimBearer(ctx.Header("Authorization"))
		if !ok {
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="presence-bridge"`)
			huma.WriteErr(api, ctx, http.StatusUnauthorized, "Send the tenant's API key as Authorization: Bearer pbk_….")
			return
		}
		k, err := d.Keys.Authenticate(ctx.Context(), secret)
		if err != nil && !errors.Is(err, store.ErrBadAPIKey) {
			d.Logger.LogAttrs(ctx.Context(), slog.LevelError, "api: key check", slog.String("operation", ctx.Operation().OperationID), slog.Any("err", err))
			ctx.SetHeader("Retry-After", "5")
			huma.WriteErr(api, ctx, http.StatusServiceUnavailable, "The key could not be checked just now. Try again shortly.")
			return
		}
		if err != nil {
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="presence-bridge", error="invalid_token"`)
			huma.WriteErr(api, ctx, http.StatusUnauthorized, "The API key is unknown, revoked or expired, or its tenant is suspended.")
			return
		}
		if !k.Has(scope) {
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="presence-bridge", error="insufficient_scope", scope="`+scope+`"`)
			huma.WriteErr(api, ctx, http.StatusForbidden, "This API key lacks the "+scope+" scope this operation needs.")
			return
		}
		next(huma.WithValue(ctx, authCtx{}, &authenticated{key: k, secret: secret}))
	}
}
