package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// SubscriptionQuery is what a notification item names: its
// subscription's Graph id and the hash of its clientState.
type SubscriptionQuery struct {
	GraphID         string
	ClientStateHash []byte
}

// SubscriptionKeys finds the subscription of every query in one statement,
// so that a notification POST costs one round trip whatever its items
// name: by Graph id or, as Graph may notify before a new subscription's id
// is stored, the subscription being created with that clientState's hash.
// Both are read in one snapshot, so a subscription whose id is stored
// meanwhile is found one way or the other. The answer is in the queries'
// order; the zero key (ID uuid.Nil) where none was found.
func (s *Store) SubscriptionKeys(ctx context.Context, queries []SubscriptionQuery) ([]SubscriptionKey, error) {
	ids := make([]string, len(queries))
	hashes := make([][]byte, len(queries))
	for i, q := range queries {
		ids[i], hashes[i] = q.GraphID, q.ClientStateHash
	}
	rows, err := s.db.Query(ctx, `SELECT q.i, s.id, s.tenant_id, coalesce(s.graph_id, ''), s.client_state_hash
		FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS q (graph_id, hash, i)
		CROSS JOIN LATERAL (
			(SELECT id, tenant_id, graph_id, client_state_hash FROM subscriptions WHERE graph_id = q.graph_id)
			UNION ALL
			(SELECT id, tenant_id, graph_id, client_state_hash FROM subscriptions WHERE graph_id IS NULL AND client_state_hash = q.hash LIMIT 1)
			LIMIT 1) s`, ids, hashes)
	if err != nil {
		return nil, wrap("subscription keys", err)
	}
	type found struct {
		i   int64
		key SubscriptionKey
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (found, error) {
		var x found
		return x, r.Scan(&x.i, &x.key.ID, &x.key.TenantID, &x.key.GraphID, &x.key.ClientStateHash)
	})
	if err != nil {
		return nil, wrap("subscription keys", err)
	}
	keys := make([]SubscriptionKey, len(queries))
	for _, x := range all {
		keys[x.i-1] = x.key
	}
	return keys, nil
}

// SubscriptionNotifyChannel is the LISTEN/NOTIFY channel on which the
// database announces every change of what notifications are matched
// against — a subscription inserted or deleted, its Graph id or its
// clientState's hash changed — with the row's previous Graph id (” when
// it had none). Triggers send it (migration 000037) in the transaction
// that makes the change, whoever makes it; web/graphhook listens.
const SubscriptionNotifyChannel = "pb_subscriptions"
