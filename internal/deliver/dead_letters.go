package deliver

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// Drop deletes a tenant's endpoint's dead and superseded deliveries —
// those f picks, as Replay would pick them — for good, audited, and
// returns how many: someone decided the endpoint will not get them (a
// disabled endpoint keeps one for every change until then, see
// store.DeadLetters). Their events go with the next clean-up of old
// history once nothing else keeps them.
func Drop(ctx context.Context, st *store.Store, tenant, endpoint uuid.UUID, actor string, f store.ReplayFilter) (int64, error) {
	var n int64
	err := st.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.GetEndpoint(ctx, tenant, endpoint); err != nil {
			return err
		}
		var err error
		if n, err = tx.DropDeadLetters(ctx, tenant, endpoint, f); err != nil {
			return err
		}
		return tx.Audit(ctx, &tenant, actor, "endpoint.dropped", filtered(map[string]any{"endpoint": endpoint, "dropped": n}, f))
	})
	if err != nil {
		return 0, fmt.Errorf("drop dead letters of endpoint %s: %w", endpoint, err)
	}
	return n, nil
}

// filtered adds to an audit entry's detail what f picked: how many ids
// were named, and from when.
func filtered(detail map[string]any, f store.ReplayFilter) map[string]any {
	if f.IDs != nil {
		detail["deliveryIds"] = len(f.IDs)
	}
	if f.Since != nil {
		detail["since"] = f.Since
	}
	return detail
}
