package store

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Dead letters are an endpoint's dead deliveries: kept, with their events
// (DeleteOldPresenceEvents), until someone replays them (ReplayEndpoint)
// or drops them (DropDeadLetters). A disabled endpoint gets one for every
// event published while it is off (queueDeliveries), so their number per
// user is bounded (TrimDeadLetters) and counted for people to see.

// DeadLetters counts an endpoint's dead letters.
type DeadLetters struct {
	// Paused were held back by the endpoint's disabling, with no attempt
	// counted: made while it was disabled, or waiting (or on the wire,
	// the 410 among them) when it was.
	Paused int64
	// Dead failed their attempts until the retry schedule ran out.
	Dead int64
	// Trimmed counts those the bound on what is kept per user deleted,
	// since the endpoint was made: what no replay can bring any more.
	Trimmed int64
	// Oldest is when the oldest dead letter was made (nil: none).
	Oldest *time.Time
}

// DeadLetterCounts counts the dead letters of each of a tenant's
// endpoints (every endpoint is listed, with zeros when it has none).
func (s *Store) DeadLetterCounts(ctx context.Context, tenantID uuid.UUID) (map[uuid.UUID]DeadLetters, error) {
	rows, err := s.db.Query(ctx, `SELECT ep.id, count(d.id) FILTER (WHERE d.attempts = 0), count(d.id) FILTER (WHERE d.attempts > 0),
			ep.dead_letters_trimmed, min(d.created_at)
		FROM endpoints ep LEFT JOIN deliveries d ON d.endpoint_id = ep.id AND d.status = 'dead'
		WHERE ep.tenant_id = $1 GROUP BY ep.id`, tenantID)
	if err != nil {
		return nil, wrap("dead letter counts", err)
	}
	defer rows.Close()
	out := map[uuid.UUID]DeadLetters{}
	for rows.Next() {
		var id uuid.UUID
		var c DeadLetters
		if err := rows.Scan(&id, &c.Paused, &c.Dead, &c.Trimmed, &c.Oldest); err != nil {
			return nil, wrap("dead letter counts", err)
		}
		out[id] = c
	}
	return out, wrap("dead letter counts", rows.Err())
}

// DropDeadLetters deletes a tenant's endpoint's dead and superseded
// deliveries that f picks — what a replay with f would look at — and
// returns how many: someone decided they are not wanted. Nothing pending
// or delivered is touched. Their events go with the next clean-up of old
// history once no other delivery keeps them.
func (s *Store) DropDeadLetters(ctx context.Context, tenantID, endpointID uuid.UUID, f ReplayFilter) (int64, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM deliveries d
		WHERE d.tenant_id = $1 AND d.endpoint_id = $2 AND d.status IN ('dead', 'superseded')
			AND ($3::bigint[] IS NULL OR d.id = ANY($3)) AND ($4::timestamptz IS NULL OR d.created_at >= $4)`,
		tenantID, endpointID, f.IDs, f.Since)
	return tag.RowsAffected(), wrap("drop dead letters", err)
}

// TrimDeadLetters deletes, at every endpoint, the dead letters of a user
// beyond the newest perUser — at most limit of them, so that a caller with
// more to do calls again and no transaction grows large — adds them to
// the endpoint's Trimmed count and returns how many. The newest are what
// a replay most needs to bring (the user's state now); the receiver sees
// the sequences trimmed as a gap, which is what a gap means.
func (s *Store) TrimDeadLetters(ctx context.Context, perUser, limit int) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `
		WITH over AS (
			SELECT id FROM (
				SELECT d.id, row_number() OVER (PARTITION BY d.endpoint_id, d.user_object_id ORDER BY d.event_id DESC) AS rn
				FROM deliveries d WHERE d.status = 'dead'
			) r WHERE r.rn > $1 LIMIT $2
		), gone AS (
			DELETE FROM deliveries d USING over WHERE d.id = over.id AND d.status = 'dead' RETURNING d.endpoint_id
		), counted AS (
			UPDATE endpoints ep SET dead_letters_trimmed = ep.dead_letters_trimmed + c.n
			FROM (SELECT endpoint_id, count(*) AS n FROM gone GROUP BY endpoint_id) c WHERE ep.id = c.endpoint_id
		)
		SELECT count(*) FROM gone`, perUser, limit).Scan(&n)
	return n, wrap("trim dead letters", err)
}
