package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ErrSubscriptionNotFound is returned for an unknown Graph subscription.
var ErrSubscriptionNotFound = errors.New("subscription not found")

// ClientStateHash is how a subscription's clientState is stored: its
// SHA-256, so the database never holds the secret that authenticates
// Graph's notifications.
func ClientStateHash(clientState string) []byte {
	h := sha256.Sum256([]byte(clientState))
	return h[:]
}

// SubscriptionKey is what the receiver needs to accept a notification.
type SubscriptionKey struct {
	ID              uuid.UUID
	TenantID        uuid.UUID
	GraphID         string // "" while the subscription is being created
	ClientStateHash []byte
}

// SubscriptionByGraphID finds a subscription by Graph's id.
func (s *Store) SubscriptionByGraphID(ctx context.Context, graphID string) (SubscriptionKey, error) {
	k := SubscriptionKey{GraphID: graphID}
	err := s.db.QueryRow(ctx, `SELECT id, tenant_id, client_state_hash FROM subscriptions WHERE graph_id = $1`, graphID).
		Scan(&k.ID, &k.TenantID, &k.ClientStateHash)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, ErrSubscriptionNotFound
	}
	return k, wrap("subscription by graph id", err)
}

// SubscriptionState is a monitor's subscription as we know it.
type SubscriptionState struct {
	ID        uuid.UUID
	GraphID   string // "" while being created
	Resource  string
	ExpiresAt *time.Time
	CertKeyID string // the encryption certificate Graph encrypts to
	// RenewRequested: an admin asked for a renewal now (Renew); the next
	// Ensure renews whatever the expiry.
	RenewRequested bool
}

// SubscriptionForMonitor reads a monitor's subscription row.
func (s *Store) SubscriptionForMonitor(ctx context.Context, tenantID, monitorID uuid.UUID) (SubscriptionState, error) {
	var st SubscriptionState
	var graphID *string
	err := s.db.QueryRow(ctx, `SELECT id, graph_id, resource, expires_at, coalesce(cert_key_id, ''), renew_requested_at IS NOT NULL
		FROM subscriptions WHERE tenant_id = $1 AND monitor_id = $2`,
		tenantID, monitorID).Scan(&st.ID, &graphID, &st.Resource, &st.ExpiresAt, &st.CertKeyID, &st.RenewRequested)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, ErrSubscriptionNotFound
	}
	if graphID != nil {
		st.GraphID = *graphID
	}
	return st, wrap("subscription for monitor", err)
}

// BeginSubscription records a subscription about to be created (graph_id
// NULL), replacing the monitor's previous row: the receiver accepts its
// notifications by clientState hash until Graph's id is known.
func (s *Store) BeginSubscription(ctx context.Context, tenantID, monitorID uuid.UUID, resource string, clientStateHash []byte, certID string, users int) (uuid.UUID, error) {
	var id uuid.UUID
	err := s.db.QueryRow(ctx, `INSERT INTO subscriptions (tenant_id, monitor_id, resource, client_state_hash, cert_key_id, user_count)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (monitor_id) DO UPDATE SET graph_id = NULL, resource = excluded.resource, client_state_hash = excluded.client_state_hash,
			cert_key_id = excluded.cert_key_id, user_count = excluded.user_count, expires_at = NULL, last_error = NULL,
			abandoned_at = NULL, renewed_at = NULL, renewals = 0, last_notification_at = NULL, renew_requested_at = NULL,
			updated_at = now()
		RETURNING id`, tenantID, monitorID, resource, clientStateHash, certID, users).Scan(&id)
	return id, wrap("begin subscription", err)
}

// SubscriptionCreated stores Graph's id and expiry.
func (s *Store) SubscriptionCreated(ctx context.Context, id uuid.UUID, graphID string, expires time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE subscriptions SET graph_id = $2, expires_at = $3, last_error = NULL, updated_at = now() WHERE id = $1`, id, graphID, expires)
	return wrap("subscription created", err)
}

// AdoptSubscription makes a row describe an existing Graph subscription.
func (s *Store) AdoptSubscription(ctx context.Context, id uuid.UUID, graphID string, clientStateHash []byte, expires time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE subscriptions SET graph_id = $2, client_state_hash = $3, expires_at = $4, last_error = NULL, updated_at = now()
		WHERE id = $1`, id, graphID, clientStateHash, expires)
	return wrap("adopt subscription", err)
}

// SubscriptionRenewed stores a renewal's expiry; a renewal an admin asked
// for is then done.
func (s *Store) SubscriptionRenewed(ctx context.Context, id uuid.UUID, expires time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE subscriptions SET expires_at = $2, last_error = NULL, renewed_at = now(), renewals = renewals + 1,
		renew_requested_at = NULL, updated_at = now() WHERE id = $1`, id, expires)
	return wrap("subscription renewed", err)
}

// ErrNothingToRenew: the monitor holds no subscription at Graph (it
// covers no users, or its subscription is being made again).
var ErrNothingToRenew = errors.New("monitor holds no subscription to renew")

// RequestRenewal asks the engine to renew the monitor's subscription on
// its next pass, rather than at its point before expiry (Renew); asked
// twice, the first request stands.
func (s *Store) RequestRenewal(ctx context.Context, tenantID, monitorID uuid.UUID) (time.Time, error) {
	var at time.Time
	err := s.db.QueryRow(ctx, `UPDATE subscriptions SET renew_requested_at = coalesce(renew_requested_at, now()), updated_at = now()
		WHERE tenant_id = $1 AND monitor_id = $2 AND graph_id IS NOT NULL AND abandoned_at IS NULL RETURNING renew_requested_at`,
		tenantID, monitorID).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return at, ErrNothingToRenew
	}
	return at, wrap("request renewal", err)
}

// SubscriptionFailed records the last error (for the dashboard and API).
func (s *Store) SubscriptionFailed(ctx context.Context, id uuid.UUID, reason string) error {
	_, err := s.db.Exec(ctx, `UPDATE subscriptions SET last_error = $2, updated_at = now() WHERE id = $1`, id, reason)
	return wrap("subscription failed", err)
}

// DropSubscriptionRow forgets a subscription.
func (s *Store) DropSubscriptionRow(ctx context.Context, id uuid.UUID) error {
	_, err := s.db.Exec(ctx, `DELETE FROM subscriptions WHERE id = $1`, id)
	return wrap("drop subscription row", err)
}

// SubscriptionRow is a tenant's subscription as the engine sweeps them.
type SubscriptionRow struct {
	ID, MonitorID uuid.UUID
	GraphID       string
	ExpiresAt     *time.Time
	Abandoned     bool
	// RenewRequested: an admin pressed Renew.
	RenewRequested bool
}

// TenantSubscriptions lists a tenant's subscription rows.
func (s *Store) TenantSubscriptions(ctx context.Context, tenantID uuid.UUID) ([]SubscriptionRow, error) {
	rows, err := s.db.Query(ctx, `SELECT id, monitor_id, coalesce(graph_id, ''), expires_at, abandoned_at IS NOT NULL,
			renew_requested_at IS NOT NULL
		FROM subscriptions WHERE tenant_id = $1`, tenantID)
	if err != nil {
		return nil, wrap("tenant subscriptions", err)
	}
	v, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SubscriptionRow, error) {
		var x SubscriptionRow
		return x, r.Scan(&x.ID, &x.MonitorID, &x.GraphID, &x.ExpiresAt, &x.Abandoned, &x.RenewRequested)
	})
	return v, wrap("tenant subscriptions", err)
}

// AbandonSubscription marks a subscription Graph still holds but we can no
// longer delete (its monitor's grant is gone): the row stays until it
// expires, so the subscription's last notifications still verify.
func (s *Store) AbandonSubscription(ctx context.Context, id uuid.UUID, reason string) error {
	_, err := s.db.Exec(ctx, `UPDATE subscriptions SET abandoned_at = coalesce(abandoned_at, now()), last_error = $2, updated_at = now()
		WHERE id = $1`, id, reason)
	return wrap("abandon subscription", err)
}

// SubscriptionExpired makes a row due for re-creation (Graph removed the
// subscription): the next Ensure makes a new one and repairs.
func (s *Store) SubscriptionExpired(ctx context.Context, id uuid.UUID, reason string) error {
	_, err := s.db.Exec(ctx, `UPDATE subscriptions SET expires_at = NULL, last_error = $2, updated_at = now() WHERE id = $1`, id, reason)
	return wrap("subscription expired", err)
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
func (s *Store) OpenLifecycleEvents(ctx context.Context, tenantID uuid.UUID) ([]LifecycleEvent, error) {
	rows, err := s.db.Query(ctx, `SELECT e.id, e.subscription_id, s.monitor_id, coalesce(s.graph_id, ''), e.event
		FROM subscription_events e JOIN subscriptions s ON s.id = e.subscription_id
		WHERE s.tenant_id = $1 AND e.handled_at IS NULL ORDER BY e.id`, tenantID)
	if err != nil {
		return nil, wrap("open lifecycle events", err)
	}
	v, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LifecycleEvent, error) {
		var x LifecycleEvent
		return x, r.Scan(&x.ID, &x.SubscriptionID, &x.MonitorID, &x.GraphID, &x.Event)
	})
	return v, wrap("open lifecycle events", err)
}

// LifecycleEventHandled closes a lifecycle notification.
func (s *Store) LifecycleEventHandled(ctx context.Context, id int64) error {
	_, err := s.db.Exec(ctx, `UPDATE subscription_events SET handled_at = now() WHERE id = $1`, id)
	return wrap("lifecycle event handled", err)
}
