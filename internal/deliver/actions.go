package deliver

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"presencebridge/internal/store"
)

// What people and the platform do to an endpoint's deliveries. Each action
// commits with its audit entry and wakes the deliverers of every process
// (NOTIFY), so what it made due goes out at once; the API, and later the
// portal and console, call these, never the store directly.

// ErrEndpointDisabled is an action that needs an enabled endpoint.
var ErrEndpointDisabled = errors.New("the endpoint is disabled")

// RetryNow makes every pending delivery of a tenant's endpoint due at
// once, and returns how many are due. A deliverer whose circuit for the
// endpoint is open still waits out its cooldown (at most MaxCooldown,
// 5 s by default, see circuit.go) and then probes with one of them: a
// success there makes them all go out.
func RetryNow(ctx context.Context, st *store.Store, tenant, endpoint uuid.UUID, actor string) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, st.Pool(), func(tx pgx.Tx) error {
		ep, err := st.GetEndpoint(ctx, tx, tenant, endpoint)
		if err != nil {
			return err
		}
		if !ep.Enabled {
			return ErrEndpointDisabled
		}
		if n, err = st.RetryEndpoint(ctx, tx, tenant, endpoint); err != nil {
			return err
		}
		if err := st.Audit(ctx, tx, &tenant, actor, "endpoint.retried", map[string]any{"endpoint": endpoint, "due": n}); err != nil {
			return err
		}
		return st.NotifyPresence(ctx, tx, tenant)
	})
	if err != nil {
		return 0, fmt.Errorf("retry endpoint %s: %w", endpoint, err)
	}
	return n, nil
}

// Replay puts an endpoint's dead and superseded deliveries back in the
// queue where that keeps each user's order (store.ReplayEndpoint):
// replayed went back, kept stay as they are because a newer state of
// their user already reached the endpoint.
func Replay(ctx context.Context, st *store.Store, tenant, endpoint uuid.UUID, actor string) (replayed, kept int64, err error) {
	err = pgx.BeginFunc(ctx, st.Pool(), func(tx pgx.Tx) error {
		if _, err := st.GetEndpoint(ctx, tx, tenant, endpoint); err != nil {
			return err
		}
		if replayed, kept, err = st.ReplayEndpoint(ctx, tx, tenant, endpoint); err != nil {
			return err
		}
		if err := st.Audit(ctx, tx, &tenant, actor, "endpoint.replayed", map[string]any{"endpoint": endpoint, "replayed": replayed, "kept": kept}); err != nil {
			return err
		}
		return st.NotifyPresence(ctx, tx, tenant)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("replay endpoint %s: %w", endpoint, err)
	}
	return replayed, kept, nil
}

// Enable turns an endpoint back on (after a 410 was fixed).
func Enable(ctx context.Context, st *store.Store, tenant, endpoint uuid.UUID, actor string) error {
	err := pgx.BeginFunc(ctx, st.Pool(), func(tx pgx.Tx) error {
		found, err := st.EnableEndpoint(ctx, tx, tenant, endpoint)
		if err != nil {
			return err
		}
		if !found {
			return store.ErrEndpointNotFound
		}
		return st.Audit(ctx, tx, &tenant, actor, "endpoint.enabled", map[string]any{"endpoint": endpoint})
	})
	if err != nil {
		return fmt.Errorf("enable endpoint %s: %w", endpoint, err)
	}
	return nil
}
