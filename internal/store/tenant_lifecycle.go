package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// A tenant's lifecycle as support changes it (internal/tenancy): suspend,
// resume, delete, and the purge of deleted tenants after their grace.

// ErrTenantState is returned when a tenant is not in a status the change
// starts from (resuming an active tenant, say).
var ErrTenantState = errors.New("the tenant is not in a status this change applies to")

// TenantLifecycle is a tenant's status and why it has it.
type TenantLifecycle struct {
	TenantID        uuid.UUID
	Status          string
	Reason          string
	ChangedAt       *time.Time
	ChangedBy       string
	ResumeStatus    string     // what Resume restores ("" unless suspended or deleted)
	PurgeAfter      *time.Time // a deleted tenant's rows go then
	SubscriptionsAt int        // subscriptions still held at Graph
}

const lifecycleColumns = `id, status, coalesce(status_reason, ''), status_changed_at, coalesce(status_changed_by, ''),
	coalesce(resume_status, ''), purge_after,
	(SELECT count(*) FROM subscriptions s WHERE s.tenant_id = tenants.id AND s.graph_id IS NOT NULL)`

func scanLifecycle(row pgx.Row) (TenantLifecycle, error) {
	var l TenantLifecycle
	err := row.Scan(&l.TenantID, &l.Status, &l.Reason, &l.ChangedAt, &l.ChangedBy, &l.ResumeStatus, &l.PurgeAfter, &l.SubscriptionsAt)
	return l, err
}

// GetTenantLifecycle reads the tenant's lifecycle.
func (s *Store) GetTenantLifecycle(ctx context.Context, id uuid.UUID) (TenantLifecycle, error) {
	l, err := scanLifecycle(s.db.QueryRow(ctx, `SELECT `+lifecycleColumns+` FROM tenants WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return l, ErrTenantNotFound
	}
	return l, wrap("tenant lifecycle", err)
}

// changeLifecycle runs an UPDATE of one tenant whose WHERE holds the
// statuses it starts from: no row is ErrTenantNotFound or ErrTenantState.
func (s *Store) changeLifecycle(ctx context.Context, op string, id uuid.UUID, sql string, args ...any) (TenantLifecycle, error) {
	l, err := scanLifecycle(s.db.QueryRow(ctx, sql+` RETURNING `+lifecycleColumns, append([]any{id}, args...)...))
	if errors.Is(err, pgx.ErrNoRows) {
		if _, gerr := s.GetTenant(ctx, id); gerr != nil {
			return l, gerr
		}
		return l, ErrTenantState
	}
	return l, wrap(op, err)
}

// SuspendTenant suspends an onboarding or active tenant, remembering which
// it was.
func (s *Store) SuspendTenant(ctx context.Context, id uuid.UUID, reason, by string) (TenantLifecycle, error) {
	return s.changeLifecycle(ctx, "suspend tenant", id, `UPDATE tenants SET resume_status = status, status = 'suspended',
			status_reason = $2, status_changed_at = now(), status_changed_by = $3, updated_at = now()
		WHERE id = $1 AND status IN ('onboarding', 'active')`, reason, by)
}

// DeleteTenant marks a tenant deleted (from any status but deleted), its
// rows to be purged after purgeAfter.
func (s *Store) DeleteTenant(ctx context.Context, id uuid.UUID, reason, by string, purgeAfter time.Time) (TenantLifecycle, error) {
	return s.changeLifecycle(ctx, "delete tenant", id, `UPDATE tenants SET
			resume_status = CASE WHEN status = 'suspended' THEN resume_status ELSE status END, status = 'deleted',
			status_reason = $2, status_changed_at = now(), status_changed_by = $3, purge_after = $4, updated_at = now()
		WHERE id = $1 AND status <> 'deleted'`, reason, by, purgeAfter)
}

// ResumeTenant gives a suspended tenant, or a deleted one not yet purged,
// back the status it had.
func (s *Store) ResumeTenant(ctx context.Context, id uuid.UUID, by string) (TenantLifecycle, error) {
	return s.changeLifecycle(ctx, "resume tenant", id, `UPDATE tenants SET status = coalesce(resume_status, 'active'),
			resume_status = NULL, purge_after = NULL, status_reason = NULL,
			status_changed_at = now(), status_changed_by = $2, updated_at = now()
		WHERE id = $1 AND status IN ('suspended', 'deleted')`, by)
}

// PurgeDeletedTenants removes up to limit tenants deleted whose grace ended
// by now, and everything of theirs (ON DELETE CASCADE; their audit entries
// stay with no tenant). Their presence events and deliveries are deleted
// here: events have no key to tenants (migration 000053), whose check cost
// every event written a probe and a lock of its tenant's row, nor
// deliveries to endpoints (000060). The deliveries go after their
// endpoints' rows are locked, as DeleteEndpoint says why. A tenant whose
// subscriptions the engine has not yet deleted at Graph waits: Graph would
// go on posting for it.
func (s *Store) PurgeDeletedTenants(ctx context.Context, now time.Time, limit int) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := s.InTx(ctx, func(tx Tx) error {
		rows, err := tx.db.Query(ctx, `SELECT t.id FROM tenants t WHERE t.status = 'deleted' AND t.purge_after <= $1
				AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.tenant_id = t.id AND s.graph_id IS NOT NULL)
			ORDER BY t.purge_after LIMIT $2 FOR UPDATE SKIP LOCKED`, now, limit)
		if err != nil {
			return err
		}
		if ids, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID]); err != nil || len(ids) == 0 {
			return err
		}
		if _, err := tx.db.Exec(ctx, `SELECT 1 FROM endpoints WHERE tenant_id = ANY($1) FOR UPDATE`, ids); err != nil {
			return err
		}
		_, err = tx.db.Exec(ctx, `WITH deliveries AS (
				DELETE FROM deliveries WHERE endpoint_id IN (SELECT id FROM endpoints WHERE tenant_id = ANY($1))
			), events AS (
				DELETE FROM presence_events WHERE tenant_id = ANY($1)
			)
			DELETE FROM tenants WHERE id = ANY($1)`, ids)
		return err
	})
	return ids, wrap("purge deleted tenants", err)
}
