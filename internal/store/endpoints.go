package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ErrEndpointNotFound is an endpoint that does not exist for the tenant.
var ErrEndpointNotFound = errors.New("endpoint not found")

// Endpoint is a tenant's webhook target.
type Endpoint struct {
	ID          uuid.UUID
	TenantID    uuid.UUID
	URL         string
	Description string
	SecretID    uuid.UUID
	// PrevSecretID is the secret a rotation replaced while it still signs
	// beside SecretID, until PrevSecretExpiresAt; both are nil otherwise
	// (never set, or the overlap is over).
	PrevSecretID        *uuid.UUID
	PrevSecretExpiresAt *time.Time
	Enabled             bool
	Reason              string
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// previousSecret is the previous signing secret of endpoints ep while its
// overlap lasts (NULL after it): what signs beside the current one.
const previousSecret = `CASE WHEN ep.previous_signing_secret_expires_at > now() THEN ep.previous_signing_secret_id END`

// endpointColumns are an Endpoint's, from endpoints ep; scan them with
// endpointFields.
const endpointColumns = `ep.id, ep.tenant_id, ep.url, ep.description, ep.signing_secret_id, ` + previousSecret + `,
	CASE WHEN ep.previous_signing_secret_expires_at > now() THEN ep.previous_signing_secret_expires_at END,
	ep.enabled, coalesce(ep.disabled_reason, ''), ep.created_at, ep.updated_at`

func endpointFields(e *Endpoint) []any {
	return []any{&e.ID, &e.TenantID, &e.URL, &e.Description, &e.SecretID, &e.PrevSecretID, &e.PrevSecretExpiresAt,
		&e.Enabled, &e.Reason, &e.CreatedAt, &e.UpdatedAt}
}

// oneEndpoint scans a row of endpointColumns (ErrEndpointNotFound when
// there is none).
func oneEndpoint(op string, row pgx.Row) (Endpoint, error) {
	var e Endpoint
	err := row.Scan(endpointFields(&e)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, wrap(op, ErrEndpointNotFound)
	}
	return e, wrap(op, err)
}

// NewEndpoint is a webhook target to add: its URL (checked by the caller,
// deliver.CheckURL), what it is for, and its signing secret (whsec_…).
type NewEndpoint struct {
	URL, Description, Secret string
}

// AddEndpoint adds a webhook target with its signing secret (sealed).
func (s *Store) AddEndpoint(ctx context.Context, tenantID uuid.UUID, n NewEndpoint) (Endpoint, error) {
	var e Endpoint
	err := s.InTx(ctx, func(tx Tx) error {
		sid, err := tx.PutSecret(ctx, &tenantID, PurposeSigningSecret, []byte(n.Secret))
		if err != nil {
			return err
		}
		e, err = oneEndpoint("add endpoint", tx.db.QueryRow(ctx, `INSERT INTO endpoints AS ep (tenant_id, url, description, signing_secret_id)
			VALUES ($1, $2, $3, $4) RETURNING `+endpointColumns, tenantID, n.URL, n.Description, sid))
		return err
	})
	return e, wrap("add endpoint", err)
}

// CreateEndpoint adds a webhook target without a description
// (AddEndpoint).
func (s *Store) CreateEndpoint(ctx context.Context, tenantID uuid.UUID, url, secret string) (Endpoint, error) {
	return s.AddEndpoint(ctx, tenantID, NewEndpoint{URL: url, Secret: secret})
}

// Endpoints lists a tenant's webhook targets.
func (s *Store) Endpoints(ctx context.Context, tenantID uuid.UUID) ([]Endpoint, error) {
	rows, err := s.db.Query(ctx, `SELECT `+endpointColumns+` FROM endpoints ep WHERE ep.tenant_id = $1 ORDER BY ep.created_at, ep.id`, tenantID)
	if err != nil {
		return nil, wrap("endpoints", err)
	}
	v, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Endpoint, error) {
		var e Endpoint
		return e, r.Scan(endpointFields(&e)...)
	})
	return v, wrap("endpoints", err)
}

// GetEndpoint returns one of a tenant's endpoints (ErrEndpointNotFound).
func (s *Store) GetEndpoint(ctx context.Context, tenantID, id uuid.UUID) (Endpoint, error) {
	return oneEndpoint("get endpoint", s.db.QueryRow(ctx, `SELECT `+endpointColumns+` FROM endpoints ep
		WHERE ep.tenant_id = $1 AND ep.id = $2`, tenantID, id))
}

// LockEndpoint returns one of a tenant's endpoints locked until the
// transaction ends, so that a change compared against it (If-Match)
// applies to exactly what was compared.
func (tx Tx) LockEndpoint(ctx context.Context, tenantID, id uuid.UUID) (Endpoint, error) {
	return oneEndpoint("lock endpoint", tx.db.QueryRow(ctx, `SELECT `+endpointColumns+` FROM endpoints ep
		WHERE ep.tenant_id = $1 AND ep.id = $2 FOR UPDATE`, tenantID, id))
}

// UpdateEndpoint sets an endpoint's URL and description.
func (s *Store) UpdateEndpoint(ctx context.Context, tenantID, id uuid.UUID, url, description string) (Endpoint, error) {
	return oneEndpoint("update endpoint", s.db.QueryRow(ctx, `UPDATE endpoints ep SET url = $3, description = $4, updated_at = now()
		WHERE ep.tenant_id = $1 AND ep.id = $2 RETURNING `+endpointColumns, tenantID, id, url, description))
}

// DeleteEndpoint removes an endpoint, its signing secrets and every
// delivery to it: pending ones are never sent (one already on the wire
// may still arrive; its outcome finds no row to record). It returns how
// many were pending.
//
// Deliveries have no key to endpoints (migration 000060), so they are
// deleted here, after the endpoint's row is locked: a publisher queues
// deliveries only to the endpoints it holds FOR SHARE until it commits
// (queueDeliveries), so once the lock is granted every delivery queued to
// the endpoint is committed and seen by the next statement, and any
// publisher after waits for the endpoint's deletion and then finds no
// endpoint to queue to (TestDeletingAnEndpointWhileAnEventIsQueuedToItLeavesNoDeliveries).
func (s *Store) DeleteEndpoint(ctx context.Context, tenantID, id uuid.UUID) (pending int64, err error) {
	err = s.InTx(ctx, func(tx Tx) error {
		if _, err := tx.LockEndpoint(ctx, tenantID, id); err != nil {
			return err
		}
		if err := tx.db.QueryRow(ctx, `WITH gone AS (DELETE FROM deliveries WHERE endpoint_id = $1 RETURNING status)
			SELECT count(*) FILTER (WHERE status = 'pending') FROM gone`, id).Scan(&pending); err != nil {
			return err
		}
		// The secrets go in the same statement: the endpoint's reference to
		// them is checked at its end, when the endpoint is gone.
		_, err := tx.db.Exec(ctx, `
			WITH gone AS (
				DELETE FROM endpoints WHERE tenant_id = $1 AND id = $2 RETURNING signing_secret_id, previous_signing_secret_id
			)
			DELETE FROM secrets WHERE id IN (SELECT signing_secret_id FROM gone UNION ALL SELECT previous_signing_secret_id FROM gone)`,
			tenantID, id)
		if err != nil {
			return err
		}
		return tx.ResolveAlert(ctx, tenantID, AlertEndpointDisabled, id.String())
	})
	return pending, wrap("delete endpoint", err)
}

// RotateEndpointSecret makes secret an endpoint's signing secret. The one
// it replaces keeps signing beside it for overlap (none when zero), so a
// receiver can move to the new one without refusing a delivery; a secret
// an earlier rotation left in its overlap is dropped at once.
func (s *Store) RotateEndpointSecret(ctx context.Context, tenantID, id uuid.UUID, secret string, overlap time.Duration) (Endpoint, error) {
	var e Endpoint
	err := s.InTx(ctx, func(tx Tx) error {
		sid, err := tx.PutSecret(ctx, &tenantID, PurposeSigningSecret, []byte(secret))
		if err != nil {
			return err
		}
		var dropped []uuid.UUID
		err = tx.db.QueryRow(ctx, `
			WITH old AS (
				SELECT id, signing_secret_id, previous_signing_secret_id FROM endpoints WHERE tenant_id = $1 AND id = $2 FOR UPDATE
			), rotated AS (
				UPDATE endpoints ep SET signing_secret_id = $3,
					previous_signing_secret_id = CASE WHEN $4::interval > '0' THEN old.signing_secret_id END,
					previous_signing_secret_expires_at = CASE WHEN $4::interval > '0' THEN now() + $4::interval END,
					updated_at = now()
				FROM old WHERE ep.id = old.id
				RETURNING `+endpointColumns+`
			)
			SELECT rotated.*, array_remove(ARRAY[old.previous_signing_secret_id,
				CASE WHEN $4::interval > '0' THEN NULL ELSE old.signing_secret_id END], NULL)
			FROM rotated, old`, tenantID, id, sid, overlap.String()).Scan(append(endpointFields(&e), &dropped)...)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrEndpointNotFound
		}
		if err != nil {
			return err
		}
		_, err = tx.db.Exec(ctx, `DELETE FROM secrets WHERE id = ANY($1)`, dropped)
		return err
	})
	return e, wrap("rotate endpoint secret", err)
}

// EnableEndpoint turns an endpoint back on (after a 410 was fixed), which
// resolves the alert its disabling raised.
func (s *Store) EnableEndpoint(ctx context.Context, tenantID, id uuid.UUID) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE endpoints SET enabled = true, disabled_reason = NULL, updated_at = now() WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	if err == nil && tag.RowsAffected() == 1 {
		err = s.ResolveAlert(ctx, tenantID, AlertEndpointDisabled, id.String())
	}
	return tag.RowsAffected() == 1, wrap("enable endpoint", err)
}

// EndpointGone disables an endpoint that answered 410 Gone (as
// DisableEndpoint) and raises an alert for the tenant, in one transaction:
// unlike an admin's disabling, nobody chose this, and events stop reaching
// the telephony platform until someone acts.
func (s *Store) EndpointGone(ctx context.Context, tenantID, id uuid.UUID) error {
	const reason = "the endpoint answered 410 Gone"
	return s.InTx(ctx, func(tx Tx) error {
		if err := tx.DisableEndpoint(ctx, id, reason); err != nil {
			return err
		}
		var url string
		if err := tx.db.QueryRow(ctx, `SELECT url FROM endpoints WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan(&url); err != nil {
			return wrap("endpoint gone", err)
		}
		msg := fmt.Sprintf("Your webhook endpoint %s answered 410 Gone, which asks senders to stop, so Presence Bridge disabled it: "+
			"presence changes no longer reach it (they are kept, and can be replayed). Fix: if the endpoint should receive events, "+
			"correct its URL if it moved, enable it again and replay what it missed.", url)
		return tx.RaiseAlert(ctx, tenantID, AlertEndpointDisabled, id.String(), msg, map[string]any{"endpoint": id, "url": url, "reason": reason})
	})
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
// those a worker holds (they are being sent), and not before the
// endpoint's Retry-After (HoldEndpoint): an endpoint that answers one
// delivery 2xx may have answered another 429 a moment before, and that
// one was sent again 19 ms after a 429 asking for 2 s (FAULTS.md, bug 4).
// It returns how many are due (or due when the hold ends).
func (s *Store) RetryEndpoint(ctx context.Context, tenantID, id uuid.UUID) (int64, error) {
	tag, err := s.db.Exec(ctx, `UPDATE deliveries SET next_attempt_at = least(next_attempt_at,
			greatest(now(), (SELECT ra.until FROM endpoint_retry_after ra WHERE ra.endpoint_id = $2)))
		WHERE tenant_id = $1 AND endpoint_id = $2 AND status = 'pending' AND `+unleased("deliveries"), tenantID, id)
	return tag.RowsAffected(), wrap("retry endpoint", err)
}

// ReplayFilter picks the dead and superseded deliveries a replay looks
// at: every one (the zero filter), those with IDs, those created at or
// after Since, or both.
type ReplayFilter struct {
	IDs   []int64
	Since *time.Time
}

// Replayed is what a replay did with the deliveries its filter picked.
type Replayed struct {
	// Replayed went back in the queue; Kept stay as they are (see
	// ReplayEndpoint); Ignored counts the filter's IDs that are no dead or
	// superseded delivery of the endpoint (unknown, pending or delivered).
	Replayed, Kept, Ignored int64
}

// reached says a delivery n reached its endpoint or is on its way there:
// delivered, or pending under a live claim (being sent). A replayed older
// delivery would be claimed only after it, so it would arrive after the
// newer state.
const reached = `(n.status = 'delivered' OR (n.status = 'pending' AND n.leased_until > now()))`

// ReplayEndpoint puts an endpoint's dead and superseded deliveries (those
// f picks) back in the queue, with a fresh schedule — those that can still
// reach it in order: for each user, the ones newer than the last event the
// endpoint received or is being sent. They go out before anything newer of the same user
// (the queue is in event order per user), and the ranges that newer
// deliveries said they superseded are cleared, since nothing is skipped
// any more — unless some of the range stays out of the queue because f
// left it out. Older ones are kept as they are (kept): sending one would
// move the user's state backwards at the receiver; the event stream
// (GET /api/v1/events from a Last-Event-ID) still has them.
//
// It decides under orderLock, held exclusively until the replay commits
// (in a transaction of its own when called outside one): no claim runs
// meanwhile, so "reached" counts every delivery claimed before, and every
// claim after sees the replayed ones queued (see deliveries.go, "Order per
// user per endpoint").
func (s *Store) ReplayEndpoint(ctx context.Context, tenantID, id uuid.UUID, f ReplayFilter) (Replayed, error) {
	var r Replayed
	err := s.InTx(ctx, func(tx Tx) error {
		if _, err := tx.db.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, orderLock); err != nil {
			return err
		}
		return tx.replayEndpoint(ctx, tenantID, id, f, &r)
	})
	return r, wrap("replay endpoint", err)
}

func (s Tx) replayEndpoint(ctx context.Context, tenantID, id uuid.UUID, f ReplayFilter, r *Replayed) error {
	return s.db.QueryRow(ctx, `
		WITH checked AS (
			SELECT d.id, d.user_object_id, d.event_id, NOT EXISTS (SELECT 1 FROM deliveries n WHERE n.endpoint_id = d.endpoint_id
				AND n.user_object_id = d.user_object_id AND n.event_id > d.event_id AND `+reached+`) AS in_order
			FROM deliveries d
			WHERE d.tenant_id = $1 AND d.endpoint_id = $2 AND d.status IN ('dead', 'superseded')
				AND ($3::bigint[] IS NULL OR d.id = ANY($3)) AND ($4::timestamptz IS NULL OR d.created_at >= $4)
		), cand AS (
			-- first: the user's oldest replayed, which the claim checks
			-- (order_check, see deliveries.go).
			SELECT c.*, row_number() OVER (PARTITION BY c.user_object_id, c.in_order ORDER BY c.event_id) = 1 AS first FROM checked c
		), r AS (
			UPDATE deliveries d SET status = 'pending', attempts = 0, next_attempt_at = now(), schedule_start = now(),
				supersedes_from = NULL, supersedes_to = NULL, leased_until = NULL, order_check = cand.first
			FROM cand WHERE d.id = cand.id AND cand.in_order
			RETURNING d.id, d.user_object_id
		), cleared AS (
			UPDATE deliveries p SET supersedes_from = NULL, supersedes_to = NULL
			WHERE p.endpoint_id = $2 AND p.status = 'pending' AND p.supersedes_from IS NOT NULL
				AND p.user_object_id IN (SELECT user_object_id FROM r)
				AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.endpoint_id = p.endpoint_id AND x.user_object_id = p.user_object_id
					AND x.status IN ('dead', 'superseded') AND x.event_id < p.event_id AND x.id NOT IN (SELECT id FROM r)
					AND NOT EXISTS (SELECT 1 FROM deliveries n WHERE n.endpoint_id = x.endpoint_id
						AND n.user_object_id = x.user_object_id AND n.event_id > x.event_id AND `+reached+`))
		)
		SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM cand WHERE NOT in_order),
			CASE WHEN $3::bigint[] IS NULL THEN 0 ELSE (SELECT count(DISTINCT i) FROM unnest($3::bigint[]) i) - (SELECT count(*) FROM cand) END`,
		tenantID, id, f.IDs, f.Since).Scan(&r.Replayed, &r.Kept, &r.Ignored)
}

// Backlog counts an endpoint's deliveries that are not delivered.
type Backlog struct {
	Pending, Dead, Superseded int
}

// Backlogs counts each of a tenant's endpoints' deliveries that are not
// delivered, by status (every endpoint is listed, with zeros when it has
// none). Each count reads an index that holds only the rows it counts:
// pending along deliveries_pending_user_idx, as the console's tenant list
// counts them, dead and superseded along deliveries_replayable_idx. An
// index of every undelivered delivery, for these counts alone, cost each
// delivered webhook two index entries (migration 000059).
func (s *Store) Backlogs(ctx context.Context, tenantID uuid.UUID) (map[uuid.UUID]Backlog, error) {
	rows, err := s.db.Query(ctx, `SELECT ep.id, (SELECT count(*) FROM deliveries d WHERE d.endpoint_id = ep.id AND d.`+pendingStatus+`),
			r.dead, r.superseded
		FROM endpoints ep, LATERAL (SELECT count(*) FILTER (WHERE d.status = 'dead') AS dead, count(*) FILTER (WHERE d.status = 'superseded') AS superseded
			FROM deliveries d WHERE d.endpoint_id = ep.id AND d.status IN ('dead', 'superseded')) r
		WHERE ep.tenant_id = $1`, tenantID)
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
