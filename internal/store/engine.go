package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// What the presence engine keeps between its passes: per-tenant status,
// lifecycle events to act on, users to re-read, subscriptions of monitors
// that lost their grant, and alerts for the tenant's admin.

// EngineTenant is a tenant's engine status (dashboard and API).
type EngineTenant struct {
	TenantID                                 uuid.UUID
	Users, Monitors, Unmonitored, MonMissing int
	LastReconciledAt, LastRepairAt           *time.Time
	LastError                                string
}

// ActiveTenants lists the tenants the engine works for.
func (s *Store) ActiveTenants(ctx context.Context, q DBTX) ([]uuid.UUID, error) {
	rows, err := q.Query(ctx, `SELECT id FROM tenants WHERE status = 'active' ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}

// InactiveTenantsWithSubscriptions lists suspended or deleted tenants
// that still hold subscriptions (to be deleted at Graph).
func (s *Store) InactiveTenantsWithSubscriptions(ctx context.Context, q DBTX) ([]uuid.UUID, error) {
	rows, err := q.Query(ctx, `SELECT t.id FROM tenants t WHERE t.status IN ('suspended', 'deleted')
		AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.tenant_id = t.id) ORDER BY t.id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}

// RecordReconcile stores what one pass over a tenant found; repaired says
// whether it also re-read every user (the periodic repair).
func (s *Store) RecordReconcile(ctx context.Context, q DBTX, t EngineTenant, at time.Time, repaired bool) error {
	_, err := q.Exec(ctx, `INSERT INTO engine_tenants AS e (tenant_id, users, monitors, unmonitored, monitors_missing,
			last_reconciled_at, last_repair_at, last_error, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7 THEN $6::timestamptz END, nullif($8, ''), now())
		ON CONFLICT (tenant_id) DO UPDATE SET users = excluded.users, monitors = excluded.monitors,
			unmonitored = excluded.unmonitored, monitors_missing = excluded.monitors_missing,
			last_reconciled_at = excluded.last_reconciled_at,
			last_repair_at = coalesce(excluded.last_repair_at, e.last_repair_at),
			last_error = excluded.last_error, updated_at = now()`,
		t.TenantID, t.Users, t.Monitors, t.Unmonitored, t.MonMissing, at, repaired, t.LastError)
	return err
}

// EngineStatus reads a tenant's engine status; a tenant never reconciled
// has zero values.
func (s *Store) EngineStatus(ctx context.Context, q DBTX, tenantID uuid.UUID) (EngineTenant, error) {
	t := EngineTenant{TenantID: tenantID}
	var lastErr *string
	err := q.QueryRow(ctx, `SELECT users, monitors, unmonitored, monitors_missing, last_reconciled_at, last_repair_at, last_error
		FROM engine_tenants WHERE tenant_id = $1`, tenantID).
		Scan(&t.Users, &t.Monitors, &t.Unmonitored, &t.MonMissing, &t.LastReconciledAt, &t.LastRepairAt, &lastErr)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, nil
	}
	if lastErr != nil {
		t.LastError = *lastErr
	}
	return t, err
}

// MonitorStatus is one monitor's part in the engine (dashboard and API).
type MonitorStatus struct {
	MonitorID          uuid.UUID
	UPN, Status        string
	UsersAssigned      int
	SubscriptionID     string // Graph's id; "" when none
	ExpiresAt          *time.Time
	LastNotificationAt *time.Time
	LastError          string // the monitor's token error, else the subscription's
}

// MonitorStatuses lists a tenant's monitors with their users and subscription.
func (s *Store) MonitorStatuses(ctx context.Context, q DBTX, tenantID uuid.UUID) ([]MonitorStatus, error) {
	rows, err := q.Query(ctx, `SELECT m.id, m.upn, m.status,
			(SELECT count(*) FROM directory_users d WHERE d.monitor_id = m.id),
			coalesce(s.graph_id, ''), s.expires_at, s.last_notification_at, coalesce(m.last_error, s.last_error, '')
		FROM monitors m LEFT JOIN subscriptions s ON s.monitor_id = m.id
		WHERE m.tenant_id = $1 AND m.removed_at IS NULL ORDER BY m.created_at, m.id`, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (MonitorStatus, error) {
		var m MonitorStatus
		return m, r.Scan(&m.MonitorID, &m.UPN, &m.Status, &m.UsersAssigned, &m.SubscriptionID, &m.ExpiresAt, &m.LastNotificationAt, &m.LastError)
	})
}

// SubscriptionRow is a tenant's subscription as the engine sweeps them.
type SubscriptionRow struct {
	ID, MonitorID uuid.UUID
	GraphID       string
	ExpiresAt     *time.Time
	Abandoned     bool
}

// TenantSubscriptions lists a tenant's subscription rows.
func (s *Store) TenantSubscriptions(ctx context.Context, q DBTX, tenantID uuid.UUID) ([]SubscriptionRow, error) {
	rows, err := q.Query(ctx, `SELECT id, monitor_id, coalesce(graph_id, ''), expires_at, abandoned_at IS NOT NULL
		FROM subscriptions WHERE tenant_id = $1`, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (SubscriptionRow, error) {
		var x SubscriptionRow
		return x, r.Scan(&x.ID, &x.MonitorID, &x.GraphID, &x.ExpiresAt, &x.Abandoned)
	})
}

// AbandonSubscription marks a subscription Graph still holds but we can no
// longer delete (its monitor's grant is gone): the row stays until it
// expires, so the subscription's last notifications still verify.
func (s *Store) AbandonSubscription(ctx context.Context, q DBTX, id uuid.UUID, reason string) error {
	_, err := q.Exec(ctx, `UPDATE subscriptions SET abandoned_at = coalesce(abandoned_at, now()), last_error = $2, updated_at = now()
		WHERE id = $1`, id, reason)
	return err
}

// SubscriptionExpired makes a row due for re-creation (Graph removed the
// subscription): the next Ensure makes a new one and repairs.
func (s *Store) SubscriptionExpired(ctx context.Context, q DBTX, id uuid.UUID, reason string) error {
	_, err := q.Exec(ctx, `UPDATE subscriptions SET expires_at = NULL, last_error = $2, updated_at = now() WHERE id = $1`, id, reason)
	return err
}

// LifecycleEvent is an unhandled lifecycle notification.
type LifecycleEvent struct {
	ID             int64
	SubscriptionID uuid.UUID
	MonitorID      uuid.UUID
	GraphID        string
	Event          string
}

// OpenLifecycleEvents lists a tenant's unhandled lifecycle notifications,
// oldest first.
func (s *Store) OpenLifecycleEvents(ctx context.Context, q DBTX, tenantID uuid.UUID) ([]LifecycleEvent, error) {
	rows, err := q.Query(ctx, `SELECT e.id, e.subscription_id, s.monitor_id, coalesce(s.graph_id, ''), e.event
		FROM subscription_events e JOIN subscriptions s ON s.id = e.subscription_id
		WHERE s.tenant_id = $1 AND e.handled_at IS NULL ORDER BY e.id`, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (LifecycleEvent, error) {
		var x LifecycleEvent
		return x, r.Scan(&x.ID, &x.SubscriptionID, &x.MonitorID, &x.GraphID, &x.Event)
	})
}

// LifecycleEventHandled closes a lifecycle notification.
func (s *Store) LifecycleEventHandled(ctx context.Context, q DBTX, id int64) error {
	_, err := q.Exec(ctx, `UPDATE subscription_events SET handled_at = now() WHERE id = $1`, id)
	return err
}

// MonitoredUsers lists every user of the tenant that has a monitor.
func (s *Store) MonitoredUsers(ctx context.Context, q DBTX, tenantID uuid.UUID) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT object_id::text FROM directory_users
		WHERE tenant_id = $1 AND monitor_id IS NOT NULL AND object_id IS NOT NULL AND resolution_status = 'resolved'`, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// PendingResyncs lists up to limit users queued for a re-read
// (presence_resync), oldest first, and the latest queued_at among them:
// ClearResyncs with it removes them once re-read, and only them.
func (s *Store) PendingResyncs(ctx context.Context, q DBTX, tenantID uuid.UUID, limit int) ([]string, time.Time, error) {
	rows, err := q.Query(ctx, `SELECT user_object_id::text, queued_at FROM presence_resync WHERE tenant_id = $1
		ORDER BY queued_at LIMIT $2`, tenantID, limit)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer rows.Close()
	var users []string
	var upTo time.Time
	for rows.Next() {
		var u string
		var at time.Time
		if err := rows.Scan(&u, &at); err != nil {
			return nil, time.Time{}, err
		}
		users = append(users, u)
		if at.After(upTo) {
			upTo = at
		}
	}
	return users, upTo, rows.Err()
}

// ClearResyncs removes re-read users from the queue, unless asked again
// after upTo (no lock is held while Graph is read, so the intake never
// waits for a repair).
func (s *Store) ClearResyncs(ctx context.Context, q DBTX, tenantID uuid.UUID, users []string, upTo time.Time) error {
	if len(users) == 0 {
		return nil
	}
	_, err := q.Exec(ctx, `DELETE FROM presence_resync WHERE tenant_id = $1 AND user_object_id = ANY($2::uuid[]) AND queued_at <= $3`,
		tenantID, users, upTo)
	return err
}

// Alert kinds.
const (
	AlertMonitorNeedsReauth = "monitor_needs_reauth"
	AlertUsersUnmonitored   = "users_unmonitored"
)

// Alert is a condition a tenant's admin must act on.
type Alert struct {
	ID         int64
	TenantID   uuid.UUID
	Kind       string
	Subject    string
	Message    string
	Detail     map[string]any
	RaisedAt   time.Time
	ResolvedAt *time.Time
}

// RaiseAlert opens an alert, or refreshes the open one of the same kind
// and subject (one open alert per condition, however often it is seen).
func (s *Store) RaiseAlert(ctx context.Context, q DBTX, tenantID uuid.UUID, kind, subject, message string, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO alerts (tenant_id, kind, subject, message, detail) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (tenant_id, kind, subject) WHERE resolved_at IS NULL
		DO UPDATE SET message = excluded.message, detail = excluded.detail, updated_at = now()`, tenantID, kind, subject, message, b)
	return err
}

// ResolveAlert closes the open alert of that kind and subject, if any.
func (s *Store) ResolveAlert(ctx context.Context, q DBTX, tenantID uuid.UUID, kind, subject string) error {
	_, err := q.Exec(ctx, `UPDATE alerts SET resolved_at = now(), updated_at = now()
		WHERE tenant_id = $1 AND kind = $2 AND subject = $3 AND resolved_at IS NULL`, tenantID, kind, subject)
	return err
}

// Alerts lists a tenant's alerts, open ones first, newest first.
func (s *Store) Alerts(ctx context.Context, q DBTX, tenantID uuid.UUID) ([]Alert, error) {
	rows, err := q.Query(ctx, `SELECT id, tenant_id, kind, subject, message, detail, raised_at, resolved_at FROM alerts
		WHERE tenant_id = $1 ORDER BY resolved_at IS NOT NULL, raised_at DESC, id DESC`, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Alert, error) {
		var a Alert
		return a, r.Scan(&a.ID, &a.TenantID, &a.Kind, &a.Subject, &a.Message, &a.Detail, &a.RaisedAt, &a.ResolvedAt)
	})
}

// HeldPresence is the presence we hold for a user, as a repair compares it.
type HeldPresence struct {
	Availability, Activity, GraphSequence string
}

// HeldPresences reads what we hold for users (absent: never seen).
func (s *Store) HeldPresences(ctx context.Context, q DBTX, tenantID uuid.UUID, users []uuid.UUID) (map[uuid.UUID]HeldPresence, error) {
	rows, err := q.Query(ctx, `SELECT user_object_id, availability, activity, graph_sequence FROM presence
		WHERE tenant_id = $1 AND user_object_id = ANY($2)`, tenantID, users)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[uuid.UUID]HeldPresence, len(users))
	for rows.Next() {
		var id uuid.UUID
		var h HeldPresence
		if err := rows.Scan(&id, &h.Availability, &h.Activity, &h.GraphSequence); err != nil {
			return nil, err
		}
		out[id] = h
	}
	return out, rows.Err()
}
