package store

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// PublishHeld publishes up to limit events whose debounce hold has ended:
// each gets its user's next sequence, a stream position and a delivery per
// endpoint (queueDeliveries), as ApplyPresenceBatch gives an event
// published at once, and the stream readers and deliverers of its tenant are woken at
// commit. Several workers may run it at once (SKIP LOCKED). It returns
// how many it published and how long until the next hold ends, by the
// database's clock (NoneHeld when nothing is held).
func (s *Store) PublishHeld(ctx context.Context, limit int) (int, time.Duration, error) {
	var n int
	next := NoneHeld
	err := s.InTx(ctx, func(tx Tx) error {
		if err := tx.nextHold(ctx, &next); err != nil {
			return err
		}
		// In the order the holds end, along presence_held_idx, stopping at
		// the limit. Ordered by tenant and user, PostgreSQL could walk the
		// whole table in its key order instead, filtering on held_until,
		// whenever its statistics saw many holds (after a burst of them,
		// until the next ANALYZE): in a table of a million presence rows
		// shaped like ours, with 20,000 holds just published, one such
		// call read all 1,000,000 rows, ~1 M buffers
		// and 340–365 ms to find nothing, against 7.5 ms for the first
		// call in this order (marking the published holds' entries dead)
		// and 0.13 ms after; with 20,000 holds due, 17,000 buffers and
		// 7.7 ms for 500 of them, against 1,039 and 1.7 ms (EXPLAIN
		// ANALYZE; each worker calls it four times a second). The load
		// run's repair with a web and two workers measured 195 such calls
		// returning nothing in 6.8 s (issue 16).
		rows, err := tx.db.Query(ctx, `SELECT tenant_id, held_event, sequence + 1
			FROM presence WHERE held_until <= now() ORDER BY held_until LIMIT $1 FOR UPDATE SKIP LOCKED`, limit)
		if err != nil {
			return err
		}
		var tenants, uids []uuid.UUID
		var seqs, ranks []int64
		counts := map[uuid.UUID]int64{}
		for rows.Next() {
			var t, uid uuid.UUID
			var seq int64
			if err := rows.Scan(&t, &uid, &seq); err != nil {
				return err
			}
			counts[t]++
			tenants, uids, seqs, ranks = append(tenants, t), append(uids, uid), append(seqs, seq), append(ranks, counts[t])
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if n = len(uids); n == 0 {
			return nil
		}
		var ct []uuid.UUID
		var cn []int64
		for t, c := range counts {
			ct, cn = append(ct, t), append(cn, c)
		}
		// One statement: the stream rows are locked (streamPositions) for
		// it and the commit only.
		_, err = tx.db.Exec(ctx, `WITH x AS (
				SELECT * FROM unnest($2::uuid[], $3::uuid[], $4::bigint[], $5::bigint[]) AS x (tenant_id, uid, sequence, rank)
			), counts AS (
				SELECT * FROM unnest($6::uuid[], $7::bigint[]) AS c (tenant_id, n)
			), `+streamPositions+`, e AS (
				UPDATE presence_events e SET sequence = x.sequence, position = s.position - counts.n + x.rank
				FROM x JOIN s USING (tenant_id) JOIN counts USING (tenant_id) WHERE e.uid = x.uid
				RETURNING e.id, e.tenant_id, e.user_object_id, e.sequence
			), p AS (
				UPDATE presence p SET sequence = e.sequence, held_event = NULL, held_until = NULL
				FROM e WHERE p.tenant_id = e.tenant_id AND p.user_object_id = e.user_object_id
			), d AS (`+queueDeliveries(``)+`)
			SELECT count(*) FROM e WHERE `+notifyStreams+` >= 0`,
			PresenceNotifyChannel, tenants, uids, seqs, ranks, ct, cn)
		return err
	})
	return n, next, wrap("publish held", err)
}

// nextHold sets next to how long until the next hold that is not due
// yet ends (unchanged when there is none): the due ones are this call's.
func (s Tx) nextHold(ctx context.Context, next *time.Duration) error {
	var secs *float64
	if err := s.db.QueryRow(ctx, `SELECT extract(epoch FROM min(held_until) - now())::float8 FROM presence
		WHERE held_until > now()`).Scan(&secs); err != nil {
		return err
	}
	if secs != nil {
		*next = max(0, time.Duration(*secs*float64(time.Second)))
	}
	return nil
}

// NoneHeld is PublishHeld's wait when no event is held.
const NoneHeld = time.Duration(-1)

// queueDeliveries is the statement that queues the deliveries of the
// events a query publishes (CTE e: id, tenant_id, user_object_id; where
// picks among them): one per endpoint of the event's tenant, in event
// order. An enabled endpoint's is pending. A disabled endpoint's is dead
// and never tried, saying why, so that what the endpoint missed is kept
// and replayable once it is enabled again (they used not to be queued at
// all, and a replay could not bring them back: issue 15).
//
// The endpoint rows are share-locked until commit. An endpoint enabled or
// disabled while the event commits then gets its delivery as it ends up:
// the change waits for the lock to be released, and this statement, if
// it waits for the change instead, reads the row again once it commits.
// Without the lock a delivery could be queued pending at an endpoint just
// disabled (and be sent to it), or dead at one just enabled (held back
// until a replay nobody knows to make). Publishing never waits on
// another publisher: share locks do not conflict.
func queueDeliveries(where string) string {
	return `INSERT INTO deliveries (tenant_id, endpoint_id, event_id, user_object_id, status, last_error)
		SELECT ep.tenant_id, ep.id, e.id, e.user_object_id, ` + deliveryStatus + `
		FROM e JOIN endpoints ep ON ep.tenant_id = e.tenant_id ` + where + ` ORDER BY e.id FOR SHARE OF ep`
}

// queueDeliveriesByKey is queueDeliveries for a generic plan
// (planning): each event's endpoints are read by the event's
// tenant (a locking subquery is never flattened into a join, so no plan
// can read all endpoints instead), in event order; where picks among the
// events.
func queueDeliveriesByKey(where string) string {
	return `INSERT INTO deliveries (tenant_id, endpoint_id, event_id, user_object_id, status, last_error)
		SELECT ep.tenant_id, ep.id, e.id, e.user_object_id, ` + deliveryStatus + `
		FROM (SELECT * FROM e WHERE ` + where + ` ORDER BY e.id) e
		CROSS JOIN LATERAL (SELECT * FROM endpoints ep WHERE ep.tenant_id = e.tenant_id FOR SHARE) ep ORDER BY e.id`
}

// deliveryStatus is a queued delivery's status and last error: pending
// at an enabled endpoint, dead at a disabled one (queueDeliveries).
const deliveryStatus = `CASE WHEN ep.enabled THEN 'pending' ELSE 'dead' END,
			CASE WHEN NOT ep.enabled THEN 'not sent: the endpoint is disabled (' || coalesce(ep.disabled_reason, 'no reason given') || ')' END`
