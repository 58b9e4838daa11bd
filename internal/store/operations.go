package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// API operations (api_operations): work the API accepts with 202 and the
// caller polls. A sync re-reads presence from Graph through the engine's
// re-read queue (presence_resync): the operation queues its users in the
// transaction that creates it, marked as a sync's (sync_at) so that each
// re-read is sent on as an event even when unchanged; the engine's pass
// marks it running when it starts on the queue and settles it with the
// outcome.

// Operation kinds and statuses.
const (
	OperationSync          = "sync"
	OperationPresenceWrite = "presence_write"

	OperationPending   = "pending"
	OperationRunning   = "running"
	OperationSucceeded = "succeeded"
	OperationFailed    = "failed"
)

// ErrOperationNotFound is returned for an operation that is not the tenant's.
var ErrOperationNotFound = errors.New("operation not found")

// Operation is an API operation.
type Operation struct {
	ID       uuid.UUID
	TenantID uuid.UUID
	Kind     string
	// UserID is the one user a sync re-reads; nil: every monitored user.
	UserID     *uuid.UUID
	Status     string
	Error      string
	CreatedBy  string
	CreatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
}

const operationColumns = `id, tenant_id, kind, user_object_id, status, coalesce(error, ''), created_by, created_at, started_at, finished_at`

func scanOperation(r pgx.Row) (Operation, error) {
	var o Operation
	err := r.Scan(&o.ID, &o.TenantID, &o.Kind, &o.UserID, &o.Status, &o.Error, &o.CreatedBy, &o.CreatedAt, &o.StartedAt, &o.FinishedAt)
	return o, err
}

// syncReason is what a sync's queue entries say, for the engine's logs.
const syncReason = "api sync"

// syncRequeue is requeue for a sync: the entry is marked as a sync's, so
// its re-read is sent on even when unchanged. Other requests keep the mark
// (requeue does not touch it): a sync's re-read asked for again by a
// notification is still a sync's.
const syncRequeue = requeue + `, sync_at = excluded.sync_at`

// CreateSyncOperation records a sync of user (nil: every monitored user of
// the tenant) and queues the re-reads it asks for, marked as a sync's. Run
// it in a transaction (with the audit entry): the operation and its queue
// entries share the transaction's timestamp, which is how
// SettleSyncOperations tells the entries it asked for from later ones.
func (s *Store) CreateSyncOperation(ctx context.Context, tenantID uuid.UUID, user *uuid.UUID, createdBy string) (Operation, error) {
	o, err := scanOperation(s.db.QueryRow(ctx, `INSERT INTO api_operations (tenant_id, kind, user_object_id, created_by)
		VALUES ($1, $2, $3, $4) RETURNING `+operationColumns, tenantID, OperationSync, user, createdBy))
	if err != nil {
		return o, wrap("create sync operation", err)
	}
	if user != nil {
		_, err = s.db.Exec(ctx, `INSERT INTO presence_resync (tenant_id, user_object_id, reason, sync_at) VALUES ($1, $2, $3, now())`+syncRequeue,
			tenantID, *user, syncReason)
		return o, wrap("create sync operation", err)
	}
	_, err = s.db.Exec(ctx, `INSERT INTO presence_resync (tenant_id, user_object_id, reason, sync_at)
		SELECT tenant_id, object_id, $2, now() FROM directory_users
		WHERE tenant_id = $1 AND monitor_id IS NOT NULL AND object_id IS NOT NULL AND resolution_status = 'resolved'`+syncRequeue,
		tenantID, syncReason)
	return o, wrap("create sync operation", err)
}

// GetOperation reads one of a tenant's operations.
func (s *Store) GetOperation(ctx context.Context, tenantID, id uuid.UUID) (Operation, error) {
	o, err := scanOperation(s.db.QueryRow(ctx, `SELECT `+operationColumns+` FROM api_operations WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return o, ErrOperationNotFound
	}
	return o, wrap("get operation", err)
}

// StartSyncOperations marks the tenant's pending syncs running, as the
// engine starts on the re-read queue that holds their users, and returns
// how many there are now running.
func (s *Store) StartSyncOperations(ctx context.Context, tenantID uuid.UUID) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `WITH started AS (
			UPDATE api_operations SET status = 'running', started_at = now()
			WHERE tenant_id = $1 AND kind = 'sync' AND status = 'pending' RETURNING 1)
		SELECT (SELECT count(*) FROM started) + (SELECT count(*) FROM api_operations
			WHERE tenant_id = $1 AND kind = 'sync' AND status = 'running')`, tenantID).Scan(&n)
	return n, wrap("start sync operations", err)
}

// SettleSyncOperations records the outcome of the engine's work on the
// re-read queue for the tenant's running syncs. Re-reads leave the queue
// only once applied — their events, a sync's forced ones included,
// committed — so after a clean run a sync whose entries are all gone
// succeeded, its events recorded (published, or held to the end of a
// debounce window). After a failure (failure non-empty) a sync succeeded
// only if none of its users is queued at all — an entry asked for again
// since carries a later time but may not have been re-read — and every
// other sync failed with failure; the engine keeps re-reading what is
// still queued.
func (s *Store) SettleSyncOperations(ctx context.Context, tenantID uuid.UUID, failure string) error {
	_, err := s.db.Exec(ctx, `UPDATE api_operations o SET
			status = CASE WHEN q.waiting THEN 'failed' ELSE 'succeeded' END,
			error = CASE WHEN q.waiting THEN $2 END,
			finished_at = now()
		FROM (SELECT o.id, EXISTS (SELECT 1 FROM presence_resync r
				WHERE r.tenant_id = o.tenant_id AND (o.user_object_id IS NULL OR r.user_object_id = o.user_object_id)
				AND ($2 <> '' OR r.queued_at <= o.created_at)) AS waiting
			FROM api_operations o WHERE o.tenant_id = $1 AND o.kind = 'sync' AND o.status = 'running') q
		WHERE o.id = q.id AND ($2 <> '' OR NOT q.waiting)`, tenantID, failure)
	return wrap("settle sync operations", err)
}

// FailSyncOperations ends every open sync of the tenant with reason: the
// engine cannot work on the tenant (its access to Microsoft is broken).
// Their users stay queued and are re-read once it can.
func (s *Store) FailSyncOperations(ctx context.Context, tenantID uuid.UUID, reason string) error {
	_, err := s.db.Exec(ctx, `UPDATE api_operations SET status = 'failed', error = $2, started_at = coalesce(started_at, now()),
			finished_at = now()
		WHERE tenant_id = $1 AND kind = 'sync' AND status IN ('pending', 'running')`, tenantID, reason)
	return wrap("fail sync operations", err)
}

// CreateOperation records an operation of kind for user, pending, for a
// worker to carry out (a sync's is CreateSyncOperation).
func (s *Store) CreateOperation(ctx context.Context, tenantID uuid.UUID, kind string, user *uuid.UUID, createdBy string) (Operation, error) {
	o, err := scanOperation(s.db.QueryRow(ctx, `INSERT INTO api_operations (tenant_id, kind, user_object_id, created_by)
		VALUES ($1, $2, $3, $4) RETURNING `+operationColumns, tenantID, kind, user, createdBy))
	return o, wrap("create operation", err)
}

// StartOperation marks an operation running (again, when a worker retries
// it).
func (s *Store) StartOperation(ctx context.Context, id uuid.UUID) error {
	_, err := s.db.Exec(ctx, `UPDATE api_operations SET status = 'running', started_at = coalesce(started_at, now())
		WHERE id = $1 AND status IN ('pending', 'running')`, id)
	return wrap("start operation", err)
}

// FinishOperation records an operation's outcome: succeeded when failure
// is empty, else failed with it.
func (s *Store) FinishOperation(ctx context.Context, id uuid.UUID, failure string) error {
	status := OperationSucceeded
	if failure != "" {
		status = OperationFailed
	}
	_, err := s.db.Exec(ctx, `UPDATE api_operations SET status = $2, error = nullif($3, ''), finished_at = now(),
		started_at = coalesce(started_at, now()) WHERE id = $1 AND status IN ('pending', 'running')`, id, status, failure)
	return wrap("finish operation", err)
}

// DeleteOldOperations deletes up to limit operations that finished more
// than keep ago, and returns how many; an open one stays whatever its age.
func (s *Store) DeleteOldOperations(ctx context.Context, keep time.Duration, limit int) (int64, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM api_operations WHERE id IN (
		SELECT id FROM api_operations WHERE finished_at < now() - $1::interval LIMIT $2)`, keep.String(), limit)
	if err != nil {
		return 0, wrap("delete old operations", err)
	}
	return tag.RowsAffected(), nil
}
