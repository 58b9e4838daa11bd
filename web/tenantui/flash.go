package tenantui

import (
	"context"
	"encoding/json"
	"log/slog"
)

// Flash keeps a value for the next page view of the same browser session,
// sealed: what an action shows once — a new API key, a signing secret, a
// Copy URL — crosses its redirect in the session row, which must not hold
// it in clear (*web.Sessions does, with the deployment's seal keys).
type Flash interface {
	PutSealed(ctx context.Context, key string, val []byte) error
	PopSealed(ctx context.Context, key string) ([]byte, error)
}

// keepOnce leaves v for the next page view under key (Deps.Flash). Without
// a Flash it is lost on the way.
func (h *handler) keepOnce(ctx context.Context, key string, v any) error {
	if h.Flash == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return h.Flash.PutSealed(ctx, key, b)
}

// takeOnce fills v with what the last action left under key, and takes
// it; one that will not open (its seal key retired in between) is logged
// and not shown.
func (h *handler) takeOnce(ctx context.Context, key string, v any) {
	if h.Flash == nil {
		return
	}
	b, err := h.Flash.PopSealed(ctx, key)
	if err != nil {
		h.Logger.LogAttrs(ctx, slog.LevelWarn, "tenant pages: what an action left to show is lost", slog.String("key", key), slog.Any("err", err))
		return
	}
	if b != nil {
		json.Unmarshal(b, v)
	}
}
