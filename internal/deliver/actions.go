package deliver

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// What people and the platform do to an endpoint's deliveries. Each action
// commits with its audit entry and wakes the deliverers of every process
// (NOTIFY), so what it made due goes out at once; the API, and later the
// portal and console, call these, never the store directly.

// ErrEndpointDisabled is an action that needs an enabled endpoint.
var ErrEndpointDisabled = errors.New("the endpoint is disabled")

// RetryNow makes every pending delivery of a tenant's endpoint due at
// once — or when the Retry-After the endpoint last asked for ends, if
// later (store.RetryEndpoint) — and returns how many. A deliverer whose
// circuit for the endpoint is open still waits out its cooldown (at most
// MaxCooldown, 5 s by default, see circuit.go) and then probes with one
// of them: a success there makes them all go out.
func RetryNow(ctx context.Context, st *store.Store, tenant, endpoint uuid.UUID, actor string) (int64, error) {
	var n int64
	err := st.InTx(ctx, func(tx store.Tx) error {
		ep, err := tx.GetEndpoint(ctx, tenant, endpoint)
		if err != nil {
			return err
		}
		if !ep.Enabled {
			return ErrEndpointDisabled
		}
		if n, err = tx.RetryEndpoint(ctx, tenant, endpoint); err != nil {
			return err
		}
		if err := tx.Audit(ctx, &tenant, actor, "endpoint.retried", map[string]any{"endpoint": endpoint, "due": n}); err != nil {
			return err
		}
		return tx.NotifyPresence(ctx, tenant)
	})
	if err != nil {
		return 0, fmt.Errorf("retry endpoint %s: %w", endpoint, err)
	}
	return n, nil
}

// Replay puts an endpoint's dead and superseded deliveries — those f
// picks — back in the queue where that keeps each user's order
// (store.ReplayEndpoint): Replayed went back, Kept stay as they are
// because a newer state of their user already reached the endpoint. A
// disabled endpoint is refused (ErrEndpointDisabled): nothing is sent to
// it, so replayed deliveries would only wait there, and the changes made
// meanwhile are queued dead beside them — enable it, then replay them all.
func Replay(ctx context.Context, st *store.Store, tenant, endpoint uuid.UUID, actor string, f store.ReplayFilter) (store.Replayed, error) {
	var r store.Replayed
	err := st.InTx(ctx, func(tx store.Tx) error {
		ep, err := tx.GetEndpoint(ctx, tenant, endpoint)
		if err != nil {
			return err
		}
		if !ep.Enabled {
			return ErrEndpointDisabled
		}
		if r, err = tx.ReplayEndpoint(ctx, tenant, endpoint, f); err != nil {
			return err
		}
		detail := filtered(map[string]any{"endpoint": endpoint, "replayed": r.Replayed, "kept": r.Kept}, f)
		if f.IDs != nil {
			detail["ignored"] = r.Ignored
		}
		if err := tx.Audit(ctx, &tenant, actor, "endpoint.replayed", detail); err != nil {
			return err
		}
		return tx.NotifyPresence(ctx, tenant)
	})
	if err != nil {
		return store.Replayed{}, fmt.Errorf("replay endpoint %s: %w", endpoint, err)
	}
	return r, nil
}

// Enable turns an endpoint back on (after a 410 was fixed).
func Enable(ctx context.Context, st *store.Store, tenant, endpoint uuid.UUID, actor string) error {
	err := st.InTx(ctx, func(tx store.Tx) error {
		found, err := tx.EnableEndpoint(ctx, tenant, endpoint)
		if err != nil {
			return err
		}
		if !found {
			return store.ErrEndpointNotFound
		}
		return tx.Audit(ctx, &tenant, actor, "endpoint.enabled", map[string]any{"endpoint": endpoint})
	})
	if err != nil {
		return fmt.Errorf("enable endpoint %s: %w", endpoint, err)
	}
	return nil
}
