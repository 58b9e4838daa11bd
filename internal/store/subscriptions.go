package store

import (
	"context"
	"crypto/sha256"
	"errors"

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
func (s *Store) SubscriptionByGraphID(ctx context.Context, q DBTX, graphID string) (SubscriptionKey, error) {
	k := SubscriptionKey{GraphID: graphID}
	err := q.QueryRow(ctx, `SELECT id, tenant_id, client_state_hash FROM subscriptions WHERE graph_id = $1`, graphID).
		Scan(&k.ID, &k.TenantID, &k.ClientStateHash)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, ErrSubscriptionNotFound
	}
	return k, err
}

// PendingSubscriptionByClientState finds a subscription being created
// (Graph may notify before its id is stored) by its clientState's hash.
func (s *Store) PendingSubscriptionByClientState(ctx context.Context, q DBTX, hash []byte) (SubscriptionKey, error) {
	var k SubscriptionKey
	err := q.QueryRow(ctx, `SELECT id, tenant_id, client_state_hash FROM subscriptions WHERE graph_id IS NULL AND client_state_hash = $1`, hash).
		Scan(&k.ID, &k.TenantID, &k.ClientStateHash)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, ErrSubscriptionNotFound
	}
	return k, err
}
