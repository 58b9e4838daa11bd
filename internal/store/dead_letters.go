package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
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

// DeadLetterUser is a user at an endpoint: where TrimDeadLetters goes on
// after. The zero value comes before every user.
type DeadLetterUser struct{ EndpointID, UserID uuid.UUID }

// TrimDeadLetters deletes, for each of the next users users that have
// dead letters after the one named by after (in endpoint, then user
// order), its dead letters beyond the newest perUser; it adds them to the
// endpoints' Trimmed counts and returns how many it deleted and the last
// user it looked at, the zero value once none is left. A caller with more
// to do goes on from there, so that no transaction grows large: a batch
// deletes what its users gained beyond perUser since the last trim. The
// newest are what a replay most needs to bring (the user's state now);
// the receiver sees the sequences trimmed as a gap, which is what a gap
// means.
//
// Its cost is its users': each is found by one probe of
// deliveries_dead_idx from the one before, and its oldest kept by reading
// its perUser newest entries there. Numbering every user's dead letters
// in each batch (a window over them all, stopping at limit beyond the
// bound) read the dead letters of every user before the batch's again,
// each batch: 245 buffers and 1,024 rows handled a user for a batch after
// 1,900 users of 12 dead letters, against 30 and 33 now
// (TestTrimmingDeadLettersReadsOnlyTheUsersOfTheBatch); at a disabled
// endpoint of 10,000 users at the bound, about 120 million index entries
// for an hour's trim.
func (s *Store) TrimDeadLetters(ctx context.Context, perUser, users int, after DeadLetterUser) (trimmed int64, last DeadLetterUser, err error) {
	if perUser < 1 || users < 1 {
		return 0, DeadLetterUser{}, fmt.Errorf("trim dead letters: keep %d a user, %d users a batch: want at least 1 of each", perUser, users)
	}
	var seen int
	err = runPlanned(ctx, s.db, planning{generic: true}, `
		WITH RECURSIVE next (endpoint_id, user_object_id, k) AS (
			(SELECT d.endpoint_id, d.user_object_id, 1 FROM deliveries d
				WHERE d.status = 'dead' AND (d.endpoint_id, d.user_object_id) > ($3::uuid, $4::uuid)
				ORDER BY d.endpoint_id, d.user_object_id, d.event_id LIMIT 1)
			UNION ALL
			SELECT n.endpoint_id, n.user_object_id, p.k + 1 FROM next p CROSS JOIN LATERAL (
				SELECT d.endpoint_id, d.user_object_id FROM deliveries d
				WHERE d.status = 'dead' AND (d.endpoint_id, d.user_object_id) > (p.endpoint_id, p.user_object_id)
				ORDER BY d.endpoint_id, d.user_object_id, d.event_id LIMIT 1) n
			WHERE p.k < $2
		), cut AS MATERIALIZED (
			-- Each one's oldest kept: its perUser-th newest (NULL: it has no more).
			SELECT u.endpoint_id, u.user_object_id, (SELECT d.event_id FROM deliveries d
					WHERE d.status = 'dead' AND d.endpoint_id = u.endpoint_id AND d.user_object_id = u.user_object_id
					ORDER BY d.endpoint_id DESC, d.user_object_id DESC, d.event_id DESC OFFSET $1 - 1 LIMIT 1) AS oldest_kept, u.k
			FROM next u
		), gone AS (
			DELETE FROM deliveries x WHERE x.id = ANY (ARRAY(
					SELECT o.id FROM cut c CROSS JOIN LATERAL (
						SELECT d.id FROM deliveries d
						WHERE d.status = 'dead' AND d.endpoint_id = c.endpoint_id AND d.user_object_id = c.user_object_id
							AND d.event_id < c.oldest_kept
						ORDER BY d.endpoint_id, d.user_object_id, d.event_id) o
					WHERE c.oldest_kept IS NOT NULL))
				AND (x.status = 'dead') IS TRUE
			RETURNING x.endpoint_id
		), counted AS (
			UPDATE endpoints ep SET dead_letters_trimmed = ep.dead_letters_trimmed + c.n
			FROM (SELECT endpoint_id, count(*) AS n FROM gone GROUP BY endpoint_id) c WHERE ep.id = c.endpoint_id
		)
		SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM cut),
			coalesce((SELECT endpoint_id FROM cut ORDER BY k DESC LIMIT 1), $3), coalesce((SELECT user_object_id FROM cut ORDER BY k DESC LIMIT 1), $4)`,
		[]any{perUser, users, after.EndpointID, after.UserID}, func(rows pgx.Rows) error {
			for rows.Next() {
				if err := rows.Scan(&trimmed, &seen, &last.EndpointID, &last.UserID); err != nil {
					return err
				}
			}
			return rows.Err()
		})
	if err != nil {
		return 0, DeadLetterUser{}, wrap("trim dead letters", err)
	}
	if seen < users {
		last = DeadLetterUser{}
	}
	return trimmed, last, nil
}
