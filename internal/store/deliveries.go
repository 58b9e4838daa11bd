package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"presencebridge/internal/presence"
)

// Delivery is one event due at one endpoint, with what its payload needs.
type Delivery struct {
	ID           int64
	TenantID     uuid.UUID
	EndpointID   uuid.UUID
	EndpointURL  string
	SecretID     uuid.UUID
	PrevSecretID *uuid.UUID
	Attempts     int
	Event        presence.EventData
}

// ClaimDeliveries leases up to limit due deliveries for lease: for each
// endpoint and user only the oldest pending event is eligible, so a user's
// changes reach an endpoint in order; no endpoint gets more than
// perEndpoint minus what it has in flight (busy); skip lists endpoints
// not to claim for at all (open circuit breakers). A claim moves
// next_attempt_at past the lease, so a worker that dies leaves the
// delivery to be claimed again (at least once, never lost).
func (s *Store) ClaimDeliveries(ctx context.Context, q DBTX, limit int, lease time.Duration, skip []uuid.UUID, perEndpoint int, busy map[uuid.UUID]int) ([]Delivery, error) {
	busyIDs := make([]uuid.UUID, 0, len(busy))
	busyN := make([]int32, 0, len(busy))
	for id, n := range busy {
		busyIDs, busyN = append(busyIDs, id), append(busyN, int32(n))
	}
	// Only due deliveries are looked at (leased ones are not due), and
	// each is checked for an earlier pending delivery of the same user to
	// the same endpoint. The query is planned for its arguments at every
	// execution (an unnamed statement), never from a cached generic plan:
	// one made while the table was small nests a scan of every pending
	// delivery inside one of every due delivery, and took 1.5 s a claim at
	// a backlog of 3,400 (the pipeline stalled) where a fresh plan takes 5 ms.
	rows, err := q.Query(ctx, `
		WITH due AS (
			SELECT d.id, d.endpoint_id, d.next_attempt_at,
				row_number() OVER (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at, d.id) AS rn
			FROM deliveries d
			WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND NOT (d.endpoint_id = ANY($3::uuid[]))
				-- The head of its user's pending deliveries to the endpoint: a
				-- probe of deliveries_pending_user_idx per due row, whose
				-- predicate (not delivered or dead) is spelled so that no other
				-- index can serve it (see migration 000009).
				AND d.event_id = (SELECT p.event_id FROM deliveries p WHERE p.status NOT IN ('delivered', 'dead')
					AND p.endpoint_id = d.endpoint_id AND p.user_object_id = d.user_object_id ORDER BY p.event_id LIMIT 1)
		), picked AS (
			SELECT due.id FROM due
			LEFT JOIN unnest($4::uuid[], $5::int[]) AS busy (endpoint_id, used) ON busy.endpoint_id = due.endpoint_id
			WHERE due.rn <= $6 - coalesce(busy.used, 0)
			ORDER BY due.next_attempt_at LIMIT $1
		), claimed AS (
			UPDATE deliveries d SET next_attempt_at = now() + $2::interval
			WHERE d.id = ANY (ARRAY(SELECT id FROM picked)) AND d.status = 'pending' AND d.next_attempt_at <= now()
			RETURNING d.id, d.tenant_id, d.endpoint_id, d.event_id, d.attempts
		)
		SELECT c.id, c.endpoint_id, ep.url, ep.signing_secret_id, ep.previous_signing_secret_id, c.attempts, `+eventColumns+`
		FROM claimed c
		JOIN endpoints ep ON ep.id = c.endpoint_id
		JOIN presence_events e ON e.id = c.event_id `+eventJoins,
		pgx.QueryExecModeCacheDescribe, limit, lease.String(), skip, busyIDs, busyN, perEndpoint)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var d Delivery
		if err := rows.Scan(append([]any{&d.ID, &d.EndpointID, &d.EndpointURL, &d.SecretID, &d.PrevSecretID, &d.Attempts},
			eventFields(&d.Event)...)...); err != nil {
			return nil, err
		}
		d.TenantID = d.Event.TenantID
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeliverySucceeded marks a delivery delivered.
func (s *Store) DeliverySucceeded(ctx context.Context, q DBTX, id int64, status int) error {
	_, err := q.Exec(ctx, `UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, last_status = $2, last_error = NULL,
		delivered_at = now() WHERE id = $1`, id, status)
	return err
}

// DeliveriesSucceeded marks deliveries delivered in one statement (ids
// and statuses pair up). It reports whether any of them has a successor:
// a later pending delivery of the same user to the same endpoint, which
// only now may be claimed. Planned per execution, as ClaimDeliveries: a
// cached plan hashed every pending delivery to answer that.
func (s *Store) DeliveriesSucceeded(ctx context.Context, q DBTX, ids []int64, statuses []int32) (bool, error) {
	var next bool
	err := q.QueryRow(ctx, `WITH done AS (
			UPDATE deliveries d SET status = 'delivered', attempts = d.attempts + 1, last_status = x.status, last_error = NULL,
				delivered_at = now()
			FROM unnest($1::bigint[], $2::int[]) AS x (id, status) WHERE d.id = x.id
			RETURNING d.endpoint_id, d.user_object_id, d.event_id
		)
		SELECT EXISTS (SELECT 1 FROM done WHERE (SELECT n.event_id FROM deliveries n WHERE n.status NOT IN ('delivered', 'dead')
			AND n.endpoint_id = done.endpoint_id AND n.user_object_id = done.user_object_id AND n.event_id > done.event_id
			ORDER BY n.event_id LIMIT 1) IS NOT NULL)`,
		pgx.QueryExecModeCacheDescribe, ids, statuses).Scan(&next)
	return next, err
}

// DeliveryFailed records a failed attempt: retried at next, or dead when
// next is zero (the schedule is spent).
func (s *Store) DeliveryFailed(ctx context.Context, q DBTX, id int64, status int, reason string, next time.Time) error {
	if next.IsZero() {
		_, err := q.Exec(ctx, `UPDATE deliveries SET status = 'dead', attempts = attempts + 1, last_status = nullif($2, 0), last_error = $3
			WHERE id = $1`, id, status, reason)
		return err
	}
	_, err := q.Exec(ctx, `UPDATE deliveries SET attempts = attempts + 1, last_status = nullif($2, 0), last_error = $3, next_attempt_at = $4
		WHERE id = $1`, id, status, reason, next)
	return err
}

// DisableEndpoint turns an endpoint off (410 Gone) and ends its pending
// deliveries as dead, replayable once it is enabled again.
func (s *Store) DisableEndpoint(ctx context.Context, q DBTX, id uuid.UUID, reason string) error {
	if _, err := q.Exec(ctx, `UPDATE endpoints SET enabled = false, disabled_reason = $2, updated_at = now() WHERE id = $1`, id, reason); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `UPDATE deliveries SET status = 'dead', last_error = $2 WHERE endpoint_id = $1 AND status = 'pending'`, id, reason)
	return err
}

// ReplayDead puts an endpoint's dead deliveries back in the queue.
func (s *Store) ReplayDead(ctx context.Context, q DBTX, tenantID, endpointID uuid.UUID) (int64, error) {
	tag, err := q.Exec(ctx, `UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = now()
		WHERE tenant_id = $1 AND endpoint_id = $2 AND status = 'dead'`, tenantID, endpointID)
	return tag.RowsAffected(), err
}

// PostponeDelivery puts a claimed delivery back, due at at, without
// counting an attempt (its endpoint's circuit is open).
func (s *Store) PostponeDelivery(ctx context.Context, q DBTX, id int64, at time.Time) error {
	_, err := q.Exec(ctx, `UPDATE deliveries SET next_attempt_at = $2 WHERE id = $1 AND status = 'pending'`, id, at)
	return err
}

// Endpoint is a tenant's webhook target.
type Endpoint struct {
	ID       uuid.UUID
	TenantID uuid.UUID
	URL      string
	SecretID uuid.UUID
	Enabled  bool
	Reason   string
}

// CreateEndpoint adds a webhook target with its signing secret (sealed).
func (s *Store) CreateEndpoint(ctx context.Context, q DBTX, tenantID uuid.UUID, url, secret string) (Endpoint, error) {
	sid, err := s.PutSecret(ctx, q, &tenantID, PurposeSigningSecret, []byte(secret))
	if err != nil {
		return Endpoint{}, err
	}
	e := Endpoint{TenantID: tenantID, URL: url, SecretID: sid, Enabled: true}
	err = q.QueryRow(ctx, `INSERT INTO endpoints (tenant_id, url, signing_secret_id) VALUES ($1, $2, $3) RETURNING id`, tenantID, url, sid).Scan(&e.ID)
	return e, err
}

// Endpoints lists a tenant's webhook targets.
func (s *Store) Endpoints(ctx context.Context, q DBTX, tenantID uuid.UUID) ([]Endpoint, error) {
	rows, err := q.Query(ctx, `SELECT id, tenant_id, url, signing_secret_id, enabled, coalesce(disabled_reason, '')
		FROM endpoints WHERE tenant_id = $1 ORDER BY created_at`, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Endpoint, error) {
		var e Endpoint
		return e, r.Scan(&e.ID, &e.TenantID, &e.URL, &e.SecretID, &e.Enabled, &e.Reason)
	})
}

// EnableEndpoint turns an endpoint back on (after a 410 was fixed).
func (s *Store) EnableEndpoint(ctx context.Context, q DBTX, tenantID, id uuid.UUID) (bool, error) {
	tag, err := q.Exec(ctx, `UPDATE endpoints SET enabled = true, disabled_reason = NULL, updated_at = now() WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return tag.RowsAffected() == 1, err
}

// DeadDeliveries counts an endpoint's dead deliveries.
func (s *Store) DeadDeliveries(ctx context.Context, q DBTX, tenantID, id uuid.UUID) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE tenant_id = $1 AND endpoint_id = $2 AND status = 'dead'`, tenantID, id).Scan(&n)
	return n, err
}
