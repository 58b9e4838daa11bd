// Package tenancy is what support does to a tenant as a whole from the
// console: suspend it (everything kept, nothing done: the engine deletes
// its subscriptions at Graph, its API keys and event streams stop),
// resume it, delete it (the same, then its data removed after a grace
// period during which it can still be resumed), and the purge that removes
// deleted tenants once their grace is over. Every change is audited with
// who made it and why, in the transaction that makes it.
package tenancy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// DefaultGrace is how long a deleted tenant's data is kept: long enough to
// undo a mistaken deletion, short enough to honour a customer's request to
// be forgotten within a month.
const DefaultGrace = 30 * 24 * time.Hour

// Refusal is a change that does not apply, in words for the page.
type Refusal struct{ Message string }

func (r *Refusal) Error() string { return r.Message }

// Service changes tenants' lifecycles.
type Service struct {
	st    *store.Store
	grace time.Duration
	now   func() time.Time
}

// New returns a Service; grace ≤ 0 is DefaultGrace, now nil is time.Now.
func New(st *store.Store, grace time.Duration, now func() time.Time) *Service {
	if grace <= 0 {
		grace = DefaultGrace
	}
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, grace: grace, now: now}
}

// Suspend suspends the tenant, as actor, for reason (required: support
// reads it later).
func (s *Service) Suspend(ctx context.Context, tenantID uuid.UUID, reason, actor string) (store.TenantLifecycle, error) {
	return s.change(ctx, tenantID, reason, "tenant.suspended", func(tx store.Tx) (store.TenantLifecycle, error) {
		return tx.SuspendTenant(ctx, tenantID, strings.TrimSpace(reason), actor)
	}, actor, true, "Only an onboarding or active tenant can be suspended.")
}

// PurgeDate is when a tenant deleted now would have its data removed:
// what a page asks support to confirm.
func (s *Service) PurgeDate() time.Time { return s.now().Add(s.grace) }

// Delete marks the tenant deleted; its data goes after the grace period.
func (s *Service) Delete(ctx context.Context, tenantID uuid.UUID, reason, actor string) (store.TenantLifecycle, error) {
	purge := s.PurgeDate()
	return s.change(ctx, tenantID, reason, "tenant.deleted", func(tx store.Tx) (store.TenantLifecycle, error) {
		return tx.DeleteTenant(ctx, tenantID, strings.TrimSpace(reason), actor, purge)
	}, actor, true, "The tenant is already deleted.")
}

// Resume gives a suspended tenant, or a deleted one within its grace, the
// status it had before.
func (s *Service) Resume(ctx context.Context, tenantID uuid.UUID, actor string) (store.TenantLifecycle, error) {
	return s.change(ctx, tenantID, "", "tenant.resumed", func(tx store.Tx) (store.TenantLifecycle, error) {
		return tx.ResumeTenant(ctx, tenantID, actor)
	}, actor, false, "Only a suspended tenant, or a deleted one not yet purged, can be resumed.")
}

func (s *Service) change(ctx context.Context, tenantID uuid.UUID, reason, action string, do func(store.Tx) (store.TenantLifecycle, error),
	actor string, needReason bool, wrongState string) (store.TenantLifecycle, error) {
	if needReason && strings.TrimSpace(reason) == "" {
		return store.TenantLifecycle{}, &Refusal{"Say why: support and the customer read it later."}
	}
	if !store.Storable(reason) {
		return store.TenantLifecycle{}, &Refusal{"The reason: " + store.NotText}
	}
	var l store.TenantLifecycle
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		var err error
		if l, err = do(tx); err != nil {
			return err
		}
		detail := map[string]any{"status": l.Status}
		if reason != "" {
			detail["reason"] = strings.TrimSpace(reason)
		}
		if l.PurgeAfter != nil {
			detail["purgeAfter"] = l.PurgeAfter.UTC()
		}
		return tx.Audit(ctx, &tenantID, actor, action, detail)
	})
	if errors.Is(err, store.ErrTenantState) {
		return l, &Refusal{wrongState}
	}
	if err != nil {
		return l, fmt.Errorf("%s %s: %w", action, tenantID, err)
	}
	return l, nil
}

// Purge removes the deleted tenants whose grace ended, a batch at a time,
// and audits each (with no tenant: its rows are gone); it returns how many
// went. A tenant still holding subscriptions at Graph waits for the engine
// to delete them.
func (s *Service) Purge(ctx context.Context) (int, error) {
	n := 0
	for {
		var ids []uuid.UUID
		err := s.st.InTx(ctx, func(tx store.Tx) error {
			var err error
			if ids, err = tx.PurgeDeletedTenants(ctx, s.now(), 20); err != nil {
				return err
			}
			for _, id := range ids {
				if err := tx.Audit(ctx, nil, "system", "tenant.purged", map[string]any{"tenant": id}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("purge deleted tenants: %w", err)
		}
		n += len(ids)
		if len(ids) < 20 {
			return n, nil
		}
	}
}
