package store

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ApplyPresenceBatch records changes in tx as ApplyPresence would, one
// after another in the order given, in two round trips instead of two or
// three per change: one reads (and locks) every named user's row with the
// echoes waiting for them, the decisions — stale by Graph's
// sequenceNumber, unchanged, echo, talking debounce, the next per-user
// sequence — are made here in order, and one statement writes the final
// presence rows, the events and their deliveries. A third round trip
// happens only when a change may end a talking debounce held by an event
// already stored. It returns each change's outcome and, for applied
// changes, its event.
func (s *Store) ApplyPresenceBatch(ctx context.Context, tx pgx.Tx, cs []PresenceChange) ([]string, []PresenceEvent, error) {
	outcomes := make([]string, len(cs))
	events := make([]PresenceEvent, len(cs))
	if len(cs) == 0 {
		return outcomes, events, nil
	}
	users, echoes, err := lockPresence(ctx, tx, cs)
	if err != nil {
		return nil, nil, fmt.Errorf("lock presence: %w", err)
	}
	var plan batchPlan
	for i, c := range cs {
		outcomes[i] = plan.decide(i, c, users[userKey{c.TenantID, c.UserID}], echoes)
	}
	if err := plan.endStoredDebounces(ctx, tx); err != nil {
		return nil, nil, fmt.Errorf("end debounced deliveries: %w", err)
	}
	ids, err := plan.write(ctx, tx, cs, users)
	if err != nil {
		return nil, nil, fmt.Errorf("write presence: %w", err)
	}
	for _, ev := range plan.events {
		events[ev.change] = PresenceEvent{ID: ids[ev.seqKey()], Sequence: ev.seq}
	}
	return outcomes, events, nil
}

type userKey struct{ tenant, user uuid.UUID }

type echoKey struct {
	userKey
	availability, activity string // lower case
}

// userState is a user's presence as the batch has made it so far.
type userState struct {
	exists                 bool
	availability, activity string
	graphSeq, mapped       string
	seq                    int64
	observed               time.Time
	dirty                  bool // to be written
	last                   int  // index in batchPlan.events of the user's last event, -1 if none in this batch
}

// lockPresence reads the named users' rows FOR UPDATE, in key order so
// that two batches naming the same users cannot deadlock, and the
// unexpired echoes of those users, in one round trip.
func lockPresence(ctx context.Context, tx pgx.Tx, cs []PresenceChange) (map[userKey]*userState, map[echoKey]bool, error) {
	users := map[userKey]*userState{}
	var tenants, ids []uuid.UUID
	for _, c := range cs {
		k := userKey{c.TenantID, c.UserID}
		if users[k] == nil {
			users[k] = &userState{last: -1}
			tenants, ids = append(tenants, c.TenantID), append(ids, c.UserID)
		}
	}
	// One statement, planned for its arguments every time: a plan cached
	// while the presence table was small would scan all of it per batch.
	rows, err := tx.Query(ctx, `WITH k AS MATERIALIZED (
			SELECT * FROM unnest($1::uuid[], $2::uuid[]) AS k (tenant_id, user_object_id)
		), locked AS MATERIALIZED (
			SELECT p.tenant_id, p.user_object_id, p.availability, p.activity, p.sequence, p.graph_sequence, p.mapped_state, p.observed_at
			FROM presence p WHERE (p.tenant_id, p.user_object_id) IN (SELECT * FROM k)
			ORDER BY p.tenant_id, p.user_object_id FOR UPDATE
		)
		SELECT false, tenant_id, user_object_id, availability, activity, sequence, graph_sequence, mapped_state, observed_at FROM locked
		UNION ALL
		SELECT true, x.tenant_id, x.user_object_id, lower(x.availability), lower(x.activity), 0, '', '', x.expires_at
		FROM presence_echo x WHERE (x.tenant_id, x.user_object_id) IN (SELECT * FROM k) AND x.expires_at > now()`,
		pgx.QueryExecModeCacheDescribe, tenants, ids)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	echoes := map[echoKey]bool{}
	for rows.Next() {
		var echo bool
		var k userKey
		var u userState
		if err := rows.Scan(&echo, &k.tenant, &k.user, &u.availability, &u.activity, &u.seq, &u.graphSeq, &u.mapped, &u.observed); err != nil {
			return nil, nil, err
		}
		if echo {
			echoes[echoKey{k, u.availability, u.activity}] = true
			continue
		}
		u.exists, u.last = true, -1
		users[k] = &u
	}
	return users, echoes, rows.Err()
}

// plannedEvent is a change to record as an event.
type plannedEvent struct {
	change  int // index in the batch
	key     userKey
	seq     int64
	source  string
	hold    time.Duration
	deliver bool
}

func (e plannedEvent) seqKey() seqKey { return seqKey{e.key, e.seq} }

type seqKey struct {
	userKey
	seq int64
}

// batchPlan is what a batch will write.
type batchPlan struct {
	events     []plannedEvent
	usedEchoes []echoKey
	// storedDebounce are events of this batch that resume talking within
	// the window after a held change already stored: if that change's
	// deliveries are still held, they are dropped and so is this event's.
	storedDebounce []int // indexes in events
	storedSeq      []int64
}

// decide is ApplyPresence's rule for one change, against the user's
// state as the batch left it.
func (p *batchPlan) decide(i int, c PresenceChange, u *userState, echoes map[echoKey]bool) string {
	if u.exists && c.GraphSequence != "" && u.graphSeq != "" && c.GraphSequence < u.graphSeq {
		return PresenceStale
	}
	if u.exists && u.availability == c.Availability && u.activity == c.Activity {
		if c.GraphSequence > u.graphSeq {
			u.graphSeq, u.dirty = c.GraphSequence, true
		}
		return PresenceUnchanged
	}
	ev := plannedEvent{change: i, key: userKey{c.TenantID, c.UserID}, seq: u.seq + 1, source: c.Source, deliver: true}
	// A state we set in Teams for the platform comes back as a change:
	// keep it, but do not send it back; the echo is used up.
	ek := echoKey{ev.key, strings.ToLower(c.Availability), strings.ToLower(c.Activity)}
	echo := echoes[ek]
	if echo {
		ev.source, ev.deliver = "echo", false
		delete(echoes, ek)
		p.usedEchoes = append(p.usedEchoes, ek)
	}
	// Talking again within the debounce window: the held change that left
	// talking is dropped, and so is this one.
	if !echo && c.Debounce > 0 && u.exists && c.MappedState == "talking" && u.mapped != "talking" {
		if u.last >= 0 {
			if prev := &p.events[u.last]; prev.deliver && prev.hold > 0 {
				prev.deliver, ev.deliver = false, false
			}
		} else {
			p.storedDebounce = append(p.storedDebounce, len(p.events))
			p.storedSeq = append(p.storedSeq, u.seq)
		}
	}
	// Leaving talking is held for the window.
	if c.Debounce > 0 && u.exists && u.mapped == "talking" && c.MappedState != "talking" {
		ev.hold = c.Debounce
	}
	*u = userState{exists: true, availability: c.Availability, activity: c.Activity, graphSeq: c.GraphSequence,
		mapped: c.MappedState, seq: ev.seq, observed: c.ObservedAt, dirty: true, last: len(p.events)}
	p.events = append(p.events, ev)
	return PresenceApplied
}

// endStoredDebounces drops the still-held deliveries of stored events
// that this batch's changes resume talking after, and then does not
// deliver those changes either.
func (p *batchPlan) endStoredDebounces(ctx context.Context, tx pgx.Tx) error {
	if len(p.storedDebounce) == 0 {
		return nil
	}
	var tenants, users []uuid.UUID
	for _, i := range p.storedDebounce {
		tenants, users = append(tenants, p.events[i].key.tenant), append(users, p.events[i].key.user)
	}
	rows, err := tx.Query(ctx, `DELETE FROM deliveries d USING presence_events e,
			unnest($1::uuid[], $2::uuid[], $3::bigint[]) AS h (tenant_id, user_object_id, sequence)
		WHERE e.id = d.event_id AND d.tenant_id = h.tenant_id AND e.user_object_id = h.user_object_id AND e.sequence = h.sequence
			AND d.status = 'pending' AND d.attempts = 0 AND d.next_attempt_at > now()
		RETURNING d.tenant_id, e.user_object_id`, pgx.QueryExecModeCacheDescribe, tenants, users, p.storedSeq)
	if err != nil {
		return err
	}
	ended := map[userKey]bool{}
	for rows.Next() {
		var k userKey
		if err := rows.Scan(&k.tenant, &k.user); err != nil {
			return err
		}
		ended[k] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, i := range p.storedDebounce {
		if ended[p.events[i].key] {
			p.events[i].deliver = false
		}
	}
	return nil
}

// write stores the final presence rows (in key order, as locked), the
// events in the batch's order — so a user's events keep their order by id
// — their deliveries, and uses up the echoes. It returns the events' ids.
func (p *batchPlan) write(ctx context.Context, tx pgx.Tx, cs []PresenceChange, users map[userKey]*userState) (map[seqKey]int64, error) {
	var pr presenceRows
	keys := make([]userKey, 0, len(users))
	for k, u := range users {
		if u.dirty {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	slices.SortFunc(keys, func(a, b userKey) int {
		if c := bytes.Compare(a.tenant[:], b.tenant[:]); c != 0 {
			return c
		}
		return bytes.Compare(a.user[:], b.user[:])
	})
	for _, k := range keys {
		pr.add(k, users[k])
	}
	var er eventRows
	for _, ev := range p.events {
		er.add(ev, cs[ev.change])
	}
	var xt, xu []uuid.UUID
	var xa, xb []string
	for _, k := range p.usedEchoes {
		xt, xu, xa, xb = append(xt, k.tenant), append(xu, k.user), append(xa, k.availability), append(xb, k.activity)
	}
	rows, err := tx.Query(ctx, `WITH p AS (
			INSERT INTO presence (tenant_id, user_object_id, availability, activity, sequence, observed_at, graph_sequence, mapped_state)
			SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], $6::timestamptz[], $7::text[], $8::text[])
			ON CONFLICT (tenant_id, user_object_id) DO UPDATE SET availability = excluded.availability, activity = excluded.activity,
				sequence = excluded.sequence, observed_at = excluded.observed_at, graph_sequence = excluded.graph_sequence,
				mapped_state = excluded.mapped_state, updated_at = now()
		), x AS (
			SELECT * FROM unnest($9::uuid[], $10::uuid[], $11::bigint[], $12::text[], $13::text[], $14::text[], $15::text[],
				$16::timestamptz[], $17::bigint[], $18::bool[]) WITH ORDINALITY
				AS x (tenant_id, user_object_id, sequence, availability, activity, mapped_state, source, observed_at, hold_us, deliver, n)
		), e AS (
			INSERT INTO presence_events (tenant_id, user_object_id, sequence, availability, activity, mapped_state, source, observed_at)
			SELECT tenant_id, user_object_id, sequence, availability, activity, mapped_state, source, observed_at FROM x ORDER BY n
			RETURNING id, tenant_id, user_object_id, sequence
		), d AS (
			INSERT INTO deliveries (tenant_id, endpoint_id, event_id, user_object_id, next_attempt_at)
			SELECT ep.tenant_id, ep.id, e.id, e.user_object_id, now() + x.hold_us * interval '1 microsecond'
			FROM e JOIN x USING (tenant_id, user_object_id, sequence)
			JOIN endpoints ep ON ep.tenant_id = e.tenant_id AND ep.enabled
			WHERE x.deliver ORDER BY e.id
		), used AS (
			DELETE FROM presence_echo WHERE (tenant_id, user_object_id, lower(availability), lower(activity))
				IN (SELECT * FROM unnest($19::uuid[], $20::uuid[], $21::text[], $22::text[]))
		)
		SELECT id, tenant_id, user_object_id, sequence FROM e`,
		pr.tenant, pr.user, pr.availability, pr.activity, pr.seq, pr.observed, pr.graphSeq, pr.mapped,
		er.tenant, er.user, er.seq, er.availability, er.activity, er.mapped, er.source, er.observed, er.holdUS, er.deliver,
		xt, xu, xa, xb)
	if err != nil {
		return nil, err
	}
	ids := map[seqKey]int64{}
	for rows.Next() {
		var k seqKey
		var id int64
		if err := rows.Scan(&id, &k.tenant, &k.user, &k.seq); err != nil {
			return nil, err
		}
		ids[k] = id
	}
	return ids, rows.Err()
}

// presenceRows are presence rows as columns, for unnest.
type presenceRows struct {
	tenant, user                             []uuid.UUID
	availability, activity, graphSeq, mapped []string
	seq                                      []int64
	observed                                 []time.Time
}

func (r *presenceRows) add(k userKey, u *userState) {
	r.tenant, r.user = append(r.tenant, k.tenant), append(r.user, k.user)
	r.availability, r.activity = append(r.availability, u.availability), append(r.activity, u.activity)
	r.graphSeq, r.mapped = append(r.graphSeq, u.graphSeq), append(r.mapped, u.mapped)
	r.seq = append(r.seq, u.seq)
	r.observed = append(r.observed, u.observed)
}

// eventRows are events as columns, for unnest.
type eventRows struct {
	tenant, user                           []uuid.UUID
	seq, holdUS                            []int64
	availability, activity, mapped, source []string
	observed                               []time.Time
	deliver                                []bool
}

func (r *eventRows) add(ev plannedEvent, c PresenceChange) {
	r.tenant, r.user = append(r.tenant, ev.key.tenant), append(r.user, ev.key.user)
	r.seq, r.holdUS = append(r.seq, ev.seq), append(r.holdUS, ev.hold.Microseconds())
	r.availability, r.activity = append(r.availability, c.Availability), append(r.activity, c.Activity)
	r.mapped, r.source = append(r.mapped, c.MappedState), append(r.source, ev.source)
	r.observed, r.deliver = append(r.observed, c.ObservedAt), append(r.deliver, ev.deliver)
}
