package store

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ErrEndpointNotFound is an endpoint that does not exist for the tenant.
var ErrEndpointNotFound = errors.New("endpoint not found")

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
func (s *Store) CreateEndpoint(ctx context.Context, tenantID uuid.UUID, url, secret string) (Endpoint, error) {
	sid, err := s.PutSecret(ctx, &tenantID, PurposeSigningSecret, []byte(secret))
	if err != nil {
		return Endpoint{}, wrap("create endpoint", err)
	}
	e := Endpoint{TenantID: tenantID, URL: url, SecretID: sid, Enabled: true}
	err = s.db.QueryRow(ctx, `INSERT INTO endpoints (tenant_id, url, signing_secret_id) VALUES ($1, $2, $3) RETURNING id`, tenantID, url, sid).Scan(&e.ID)
	return e, wrap("create endpoint", err)
}

// Endpoints lists a tenant's webhook targets.
func (s *Store) Endpoints(ctx context.Context, tenantID uuid.UUID) ([]Endpoint, error) {
	rows, err := s.db.Query(ctx, `SELECT id, tenant_id, url, signing_secret_id, enabled, coalesce(disabled_reason, '')
		FROM endpoints WHERE tenant_id = $1 ORDER BY created_at`, tenantID)
	if err != nil {
		return nil, wrap("endpoints", err)
	}
	v, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Endpoint, error) {
		var e Endpoint
		return e, r.Scan(&e.ID, &e.TenantID, &e.URL, &e.SecretID, &e.Enabled, &e.Reason)
	})
	return v, wrap("endpoints", err)
}

// GetEndpoint returns one of a tenant's endpoints (ErrEndpointNotFound).
func (s *Store) GetEndpoint(ctx context.Context, tenantID, id uuid.UUID) (Endpoint, error) {
	var e Endpoint
	err := s.db.QueryRow(ctx, `SELECT id, tenant_id, url, signing_secret_id, enabled, coalesce(disabled_reason, '')
		FROM endpoints WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan(&e.ID, &e.TenantID, &e.URL, &e.SecretID, &e.Enabled, &e.Reason)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, ErrEndpointNotFound
	}
	return e, wrap("get endpoint", err)
}

// EnableEndpoint turns an endpoint back on (after a 410 was fixed).
func (s *Store) EnableEndpoint(ctx context.Context, tenantID, id uuid.UUID) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE endpoints SET enabled = true, disabled_reason = NULL, updated_at = now() WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return tag.RowsAffected() == 1, wrap("enable endpoint", err)
}

// DisableEndpoint turns an endpoint off (410 Gone) and ends its pending
// deliveries as dead, replayable once it is enabled again.
func (s *Store) DisableEndpoint(ctx context.Context, id uuid.UUID, reason string) error {
	if _, err := s.db.Exec(ctx, `UPDATE endpoints SET enabled = false, disabled_reason = $2, updated_at = now() WHERE id = $1`, id, reason); err != nil {
		return wrap("disable endpoint", err)
	}
	_, err := s.db.Exec(ctx, `UPDATE deliveries SET status = 'dead', last_error = $2, leased_until = NULL WHERE endpoint_id = $1 AND status = 'pending'`,
		id, reason)
	return wrap("disable endpoint", err)
}

// RetryEndpoint makes every pending delivery of an endpoint due now
// ("retry now", or the endpoint answered again after failing), except
// those a worker holds (they are being sent). It returns how many are due.
func (s *Store) RetryEndpoint(ctx context.Context, tenantID, id uuid.UUID) (int64, error) {
	tag, err := s.db.Exec(ctx, `UPDATE deliveries SET next_attempt_at = least(next_attempt_at, now())
		WHERE tenant_id = $1 AND endpoint_id = $2 AND status = 'pending' AND (leased_until IS NULL OR leased_until <= now())`, tenantID, id)
	return tag.RowsAffected(), wrap("retry endpoint", err)
}

// ReplayEndpoint puts an endpoint's dead and superseded deliveries back in
// the queue, with a fresh schedule — those that can still reach it in
// order: for each user, the ones newer than the last event the endpoint
// received. They go out before anything newer of the same user (the
// queue is in event order per user), and the ranges that newer
// deliveries said they superseded are cleared, since nothing is skipped
// any more. Older ones are kept as they are (kept): sending one would
// move the user's state backwards at the receiver; the event stream
// (GET /api/v1/events from a Last-Event-ID) still has them.
func (s *Store) ReplayEndpoint(ctx context.Context, tenantID, id uuid.UUID) (replayed, kept int64, err error) {
	err = s.db.QueryRow(ctx, `
		WITH r AS (
			UPDATE deliveries d SET status = 'pending', attempts = 0, next_attempt_at = now(), schedule_start = now(),
				supersedes_from = NULL, supersedes_to = NULL, leased_until = NULL
			WHERE d.tenant_id = $1 AND d.endpoint_id = $2 AND d.status IN ('dead', 'superseded')
				AND NOT EXISTS (SELECT 1 FROM deliveries n WHERE n.endpoint_id = d.endpoint_id AND n.user_object_id = d.user_object_id
					AND n.status = 'delivered' AND n.event_id > d.event_id)
			RETURNING d.user_object_id
		), cleared AS (
			UPDATE deliveries p SET supersedes_from = NULL, supersedes_to = NULL
			WHERE p.endpoint_id = $2 AND p.status = 'pending' AND p.supersedes_from IS NOT NULL
				AND p.user_object_id IN (SELECT user_object_id FROM r)
		)
		SELECT (SELECT count(*) FROM r),
			(SELECT count(*) FROM deliveries WHERE tenant_id = $1 AND endpoint_id = $2 AND status IN ('dead', 'superseded'))
				- (SELECT count(*) FROM r)`, tenantID, id).Scan(&replayed, &kept)
	return replayed, kept, wrap("replay endpoint", err)
}

// Backlog counts an endpoint's deliveries that are not delivered.
type Backlog struct {
	Pending, Dead, Superseded int
}

// Backlogs counts each of a tenant's endpoints' deliveries that are not
// delivered, by status.
func (s *Store) Backlogs(ctx context.Context, tenantID uuid.UUID) (map[uuid.UUID]Backlog, error) {
	rows, err := s.db.Query(ctx, `SELECT endpoint_id, count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'dead'),
		count(*) FILTER (WHERE status = 'superseded')
		FROM deliveries WHERE tenant_id = $1 AND status <> 'delivered' GROUP BY endpoint_id`, tenantID)
	if err != nil {
		return nil, wrap("backlogs", err)
	}
	defer rows.Close()
	out := map[uuid.UUID]Backlog{}
	for rows.Next() {
		var id uuid.UUID
		var b Backlog
		if err := rows.Scan(&id, &b.Pending, &b.Dead, &b.Superseded); err != nil {
			return nil, wrap("backlogs", err)
		}
		out[id] = b
	}
	return out, rows.Err()
}
