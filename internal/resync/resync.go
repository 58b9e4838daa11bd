// Package resync asks for presence to be re-read from Microsoft Graph and
// sent again, for one user or every monitored user of a tenant: the tenant
// API's POST /sync and the tenant pages' "Re-sync" both record it here, as
// an operation the engine's next pass over the tenant runs and settles
// (store.CreateSyncOperation, internal/engine).
package resync

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// InactiveError: the tenant's presence is not monitored (yet), so there is
// nothing to re-read.
type InactiveError struct{ Status string }

func (e *InactiveError) Error() string {
	return "Presence is not monitored for this tenant yet (it is " + e.Status + "): there is nothing to re-read."
}

// UnresolvedError: the user named is on the roster but not resolved to an
// account whose presence could be read.
type UnresolvedError struct{ Status string }

func (e *UnresolvedError) Error() string {
	return "The user is " + e.Status + ", not resolved to a Microsoft Entra account: there is no presence to re-read."
}

// Start records a sync of the user ref (object id or UPN as entered; ""
// for every monitored user) with its audit entry by actor. It returns
// store.ErrUserNotFound for a user not on the roster, *InactiveError or
// *UnresolvedError for what cannot be re-read.
func Start(ctx context.Context, st *store.Store, tenantID uuid.UUID, ref, actor string) (store.Operation, error) {
	t, err := st.GetTenant(ctx, tenantID)
	if err != nil {
		return store.Operation{}, fmt.Errorf("sync: get tenant: %w", err)
	}
	if t.Status != store.TenantActive {
		return store.Operation{}, &InactiveError{Status: t.Status}
	}
	var user *uuid.UUID
	if ref != "" {
		u, err := st.FindDirectoryUser(ctx, tenantID, ref)
		switch {
		case errors.Is(err, store.ErrUserNotFound):
			return store.Operation{}, err
		case err != nil:
			return store.Operation{}, fmt.Errorf("sync: find user: %w", err)
		case u.ObjectID == nil || u.Status != store.UserResolved:
			return store.Operation{}, &UnresolvedError{Status: u.Status}
		}
		user = u.ObjectID
	}
	var o store.Operation
	err = st.InTx(ctx, func(tx store.Tx) (err error) {
		if o, err = tx.CreateSyncOperation(ctx, tenantID, user, actor); err != nil {
			return err
		}
		return tx.Audit(ctx, &tenantID, actor, "sync.requested", map[string]any{"operation": o.ID, "userId": user})
	})
	if err != nil {
		return store.Operation{}, fmt.Errorf("sync: %w", err)
	}
	return o, nil
}
