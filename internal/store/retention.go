package store

import (
	"context"
	"fmt"
	"time"
)

// DeleteOldPresenceEvents deletes, of the limit events written next after
// event after, those older than keep, with their deliveries. It returns
// how many it deleted and the event to go on after: 0 once it reached an
// event young enough to keep, or the last one. A caller with a backlog
// calls again with that, so that no transaction grows large. An event
// with a delivery still pending is kept whatever its age (nothing waiting
// to be sent is lost to the clean-up), and so is one with a dead
// delivery: a dead letter stays replayable until someone replays it (then
// it is pending) or drops it (DropDeadLetters), and the number an endpoint
// keeps is bounded otherwise (TrimDeadLetters). The deliveries are
// deleted here, by their (endpoint_id, event_id) key through the event's
// tenant's endpoints: deliveries have no key to events to cascade
// (migration 000054).
//
// Its cost is the events it looks at, whatever the history kept or the
// deliveries pending. Events are numbered as they are written, a
// transaction's start (created_at) at most seconds apart from the
// numbering, so the old ones come first: it walks them by their key from
// where the last batch stopped and stops at the first young one (an old
// event numbered after it goes in the next run). Each one's deliveries
// still waiting are probed by key, through its tenant's endpoints.
// Selected by created_at and kept by a NOT EXISTS over deliveries, the
// batch scanned every event and hashed every pending or dead delivery:
// 412 rows handled an event deleted at 30,000 events with 10,000 pending
// (TestRetentionReadsInProportionToWhatItDeletesWhateverIsPending), and a
// day's history at 1,000 changes a second is 17,000 batches.
func (s *Store) DeleteOldPresenceEvents(ctx context.Context, keep time.Duration, after int64, limit int) (deleted, next int64, err error) {
	err = s.db.QueryRow(ctx, `WITH next AS MATERIALIZED (
			SELECT e.id, e.tenant_id, e.created_at < now() - $1::interval AS old FROM presence_events e
			WHERE e.id > $2 ORDER BY e.id LIMIT $3
		), old AS MATERIALIZED (
			-- Up to the first young one.
			SELECT n.id, n.tenant_id FROM next n
			WHERE n.id < coalesce((SELECT min(y.id) FROM next y WHERE NOT y.old), 9223372036854775807)
		), gone AS (
			DELETE FROM presence_events x WHERE x.id = ANY (ARRAY(
				SELECT o.id FROM old o
				WHERE NOT EXISTS (SELECT 1 FROM endpoints ep CROSS JOIN LATERAL (
					SELECT 1 FROM deliveries d WHERE d.endpoint_id = ep.id AND d.event_id = o.id AND d.status IN ('pending', 'dead')) d
					WHERE ep.tenant_id = o.tenant_id)))
			RETURNING x.id, x.tenant_id
		), sent AS (
			DELETE FROM deliveries d USING gone JOIN endpoints ep ON ep.tenant_id = gone.tenant_id
			WHERE d.endpoint_id = ep.id AND d.event_id = gone.id
		)
		SELECT (SELECT count(*) FROM gone),
			CASE WHEN (SELECT count(*) FROM old) = $3 THEN (SELECT max(id) FROM old) ELSE 0 END`, keep.String(), after, limit).Scan(&deleted, &next)
	if err != nil {
		return 0, 0, fmt.Errorf("delete presence events older than %s: %w", keep, err)
	}
	return deleted, next, nil
}
