package store

import (
	"context"
	"fmt"
	"time"
)

// DeleteOldPresenceEvents deletes up to limit presence events older than
// keep, with their deliveries, and returns how many; a caller with a
// backlog calls again, so that no transaction grows large. An event with
// a delivery still pending is kept whatever its age (nothing waiting to
// be sent is lost to the clean-up), and so is one with a dead delivery: a
// dead letter stays replayable until someone replays it (then it is
// pending) or drops it (DropDeadLetters), and the number an endpoint
// keeps is bounded otherwise (TrimDeadLetters). The deliveries are
// deleted here, by their (endpoint_id, event_id) key through the event's
// tenant's endpoints: deliveries have no key to events to cascade
// (migration 000054).
func (s *Store) DeleteOldPresenceEvents(ctx context.Context, keep time.Duration, limit int) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `WITH gone AS (
			DELETE FROM presence_events WHERE id IN (
				SELECT e.id FROM presence_events e
				WHERE e.created_at < now() - $1::interval
				AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status IN ('pending', 'dead'))
				LIMIT $2)
			RETURNING id, tenant_id
		), sent AS (
			DELETE FROM deliveries d USING gone JOIN endpoints ep ON ep.tenant_id = gone.tenant_id
			WHERE d.endpoint_id = ep.id AND d.event_id = gone.id
		)
		SELECT count(*) FROM gone`, keep.String(), limit).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("delete presence events older than %s: %w", keep, err)
	}
	return n, nil
}
