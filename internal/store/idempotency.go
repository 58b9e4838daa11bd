package store

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// IdempotencyWindow is how long an Idempotency-Key is remembered: a retry
// within it gets the first answer; after it the key may be used afresh.
const IdempotencyWindow = 24 * time.Hour

// abandonedAfter: a first request that has not answered after this long
// will not (every request's deadline is shorter; its process died), so a
// retry may run it again rather than wait out the window.
const abandonedAfter = 5 * time.Minute

// IdempotentRequest is a request as remembered under its key.
type IdempotentRequest struct {
	Hash    []byte      // of method, path and body: the same key with another request is refused
	Done    bool        // false while the first request runs
	Status  int         // its answer, once Done
	Header  http.Header //
	Body    []byte      //
	Started time.Time
}

// ClaimIdempotencyKey starts the first request under (apiKey, key), or,
// when the key was used within the window, returns what was remembered of
// that request (claimed false). A claim whose request never answered is
// taken over after abandonedAfter.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, apiKey uuid.UUID, key, method, path string, hash []byte) (IdempotentRequest, bool, error) {
	var r IdempotentRequest
	var claimed bool
	var status *int
	err := s.db.QueryRow(ctx, `WITH ins AS (
			INSERT INTO idempotency_keys (api_key_id, key, method, path, request_hash) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (api_key_id, key) DO UPDATE
				SET method = excluded.method, path = excluded.path, request_hash = excluded.request_hash,
					status = NULL, headers = NULL, body = NULL, created_at = now()
				WHERE idempotency_keys.created_at < now() - $6::interval
					OR (idempotency_keys.status IS NULL AND idempotency_keys.created_at < now() - $7::interval)
			RETURNING true)
		SELECT true, NULL::bytea, NULL::int, NULL::jsonb, NULL::bytea, now() FROM ins
		UNION ALL
		SELECT false, request_hash, status, headers, body, created_at FROM idempotency_keys
		WHERE api_key_id = $1 AND key = $2 AND NOT EXISTS (SELECT 1 FROM ins)`,
		apiKey, key, method, path, hash, IdempotencyWindow.String(), abandonedAfter.String()).Scan(&claimed, &r.Hash, &status, &r.Header, &r.Body, &r.Started)
	if errors.Is(err, pgx.ErrNoRows) {
		// The row was deleted between the insert's conflict and the read
		// (its expiry swept): the caller may try again.
		return r, false, wrap("claim idempotency key", errors.New("the key's record changed meanwhile; try again"))
	}
	if err != nil {
		return r, false, wrap("claim idempotency key", err)
	}
	if status != nil {
		r.Done, r.Status = true, *status
	}
	return r, claimed, nil
}

// CompleteIdempotencyKey remembers the answer of the request that claimed
// (apiKey, key).
func (s *Store) CompleteIdempotencyKey(ctx context.Context, apiKey uuid.UUID, key string, status int, header http.Header, body []byte) error {
	_, err := s.db.Exec(ctx, `UPDATE idempotency_keys SET status = $3, headers = $4, body = $5 WHERE api_key_id = $1 AND key = $2`,
		apiKey, key, status, header, body)
	return wrap("complete idempotency key", err)
}

// ReleaseIdempotencyKey forgets a claim whose request did not complete (it
// failed on our side), so that a retry runs it again.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, apiKey uuid.UUID, key string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM idempotency_keys WHERE api_key_id = $1 AND key = $2 AND status IS NULL`, apiKey, key)
	return wrap("release idempotency key", err)
}

// DeleteExpiredIdempotencyKeys deletes up to limit keys older than the
// window and returns how many.
func (s *Store) DeleteExpiredIdempotencyKeys(ctx context.Context, limit int) (int64, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM idempotency_keys WHERE ctid IN (
		SELECT ctid FROM idempotency_keys WHERE created_at < now() - $1::interval LIMIT $2)`, IdempotencyWindow.String(), limit)
	if err != nil {
		return 0, wrap("delete expired idempotency keys", err)
	}
	return tag.RowsAffected(), nil
}
