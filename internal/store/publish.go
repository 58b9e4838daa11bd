package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// PublishHeld publishes up to limit events whose debounce hold has ended:
// each gets its user's next sequence, a stream position and a delivery per
// enabled endpoint, as ApplyPresenceBatch gives an event published at
// once, and the stream readers and deliverers of its tenant are woken at
// commit. Several workers may run it at once (SKIP LOCKED). It returns
// how many it published and how long until the next hold ends, by the
// database's clock (NoneHeld when nothing is held).
func (s *Store) PublishHeld(ctx context.Context, limit int) (int, time.Duration, error) {
	var n int
	next := NoneHeld
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT tenant_id, user_object_id, held_event, sequence FROM presence
			WHERE held_until <= now() ORDER BY tenant_id, user_object_id LIMIT $1 FOR UPDATE SKIP LOCKED`, limit)
		if err != nil {
			return err
		}
		var tenants, users, uids []uuid.UUID
		var seqs []int64
		for rows.Next() {
			var t, u, uid uuid.UUID
			var seq int64
			if err := rows.Scan(&t, &u, &uid, &seq); err != nil {
				return err
			}
			tenants, users, uids, seqs = append(tenants, t), append(users, u), append(uids, uid), append(seqs, seq+1)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if n = len(uids); n > 0 {
			last, err := lockStreams(ctx, tx, tenants)
			if err != nil {
				return err
			}
			positions := make([]int64, n)
			for i, t := range tenants {
				last[t]++
				positions[i] = last[t]
			}
			if _, err := tx.Exec(ctx, `WITH x AS (
					SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[], $5::bigint[])
						AS x (tenant_id, user_object_id, uid, sequence, position)
				), e AS (
					UPDATE presence_events e SET sequence = x.sequence, position = x.position FROM x WHERE e.uid = x.uid
					RETURNING e.id, e.tenant_id, e.user_object_id
				), p AS (
					UPDATE presence p SET sequence = x.sequence, held_event = NULL, held_until = NULL
					FROM x WHERE p.tenant_id = x.tenant_id AND p.user_object_id = x.user_object_id
				), d AS (
					INSERT INTO deliveries (tenant_id, endpoint_id, event_id, user_object_id)
					SELECT ep.tenant_id, ep.id, e.id, e.user_object_id
					FROM e JOIN endpoints ep ON ep.tenant_id = e.tenant_id AND ep.enabled ORDER BY e.id
				)
				UPDATE event_streams s SET position = m.position
				FROM (SELECT tenant_id, max(position) AS position FROM x GROUP BY tenant_id) m WHERE s.tenant_id = m.tenant_id`,
				tenants, users, uids, seqs, positions); err != nil {
				return err
			}
			if err := s.NotifyPresence(ctx, tx, distinct(tenants)...); err != nil {
				return err
			}
		}
		var secs *float64
		if err := tx.QueryRow(ctx, `SELECT extract(epoch FROM min(held_until) - now())::float8 FROM presence
			WHERE held_until IS NOT NULL`).Scan(&secs); err != nil {
			return err
		}
		if secs != nil {
			next = max(0, time.Duration(*secs*float64(time.Second)))
		}
		return nil
	})
	return n, next, err
}

// NoneHeld is PublishHeld's wait when no event is held.
const NoneHeld = time.Duration(-1)

func distinct(ids []uuid.UUID) []uuid.UUID {
	seen := map[uuid.UUID]bool{}
	var out []uuid.UUID
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
