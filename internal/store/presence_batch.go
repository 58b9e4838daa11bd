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

	"presencebridge/internal/presence"
)

// ApplyPresenceBatch records changes in tx as ApplyPresence would, one
// after another in the order given, in a few round trips instead of two
// or three per change: one reads (and locks) every named user's row with
// the echoes waiting for them; the decisions — stale by Graph's
// sequenceNumber, unchanged, echo, talking debounce — are made here in
// order; and one statement writes the final presence rows, the events,
// their stream positions and deliveries, the suppression of held events,
// and wakes the tenants' readers and deliverers at commit. It returns
// each change's outcome and, for applied changes, its event (Sequence 0
// when the event was not published now: held or suppressed).
//
// Publication is one decision for both channels: an event published here
// gets the user's next sequence, a stream position (the SSE cursor) and a
// delivery per endpoint (queueDeliveries), in the same transaction; a held
// event gets them when its hold ends (PublishHeld); a suppressed one never.
func (s Tx) ApplyPresenceBatch(ctx context.Context, cs []PresenceChange) ([]string, []PresenceEvent, error) {
	outcomes := make([]string, len(cs))
	events := make([]PresenceEvent, len(cs))
	if len(cs) == 0 {
		return outcomes, events, nil
	}
	users, echoes, err := lockPresence(ctx, s.db, cs)
	if err != nil {
		return nil, nil, fmt.Errorf("lock presence: %w", err)
	}
	var plan batchPlan
	for i, c := range cs {
		outcomes[i] = plan.decide(i, c, users[userKey{c.TenantID, c.UserID}], echoes)
	}
	plan.rank()
	ids, err := plan.write(ctx, s.db, cs, users)
	if err != nil {
		return nil, nil, fmt.Errorf("write presence: %w", err)
	}
	for _, ev := range plan.events {
		events[ev.change] = PresenceEvent{ID: ids[ev.uid], Sequence: ev.seq}
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
	rich                   presence.Rich
	graphSeq, mapped       string
	seq                    int64 // the user's last published sequence
	observed               time.Time
	dirty                  bool // to be written
	// The event a debounce holds, if any: stored (heldUntil is the
	// database's deadline) or planned in this batch (heldIdx ≥ 0; its hold
	// is the event's).
	held      uuid.UUID
	heldUntil *time.Time
	heldIdx   int
}

// lockPresence reads the named users' rows FOR UPDATE, in key order so
// that two batches naming the same users cannot deadlock, and the
// unexpired echoes of those users, in one round trip.
func lockPresence(ctx context.Context, tx querier, cs []PresenceChange) (map[userKey]*userState, map[echoKey]bool, error) {
	users := map[userKey]*userState{}
	var tenants, ids []uuid.UUID
	for _, c := range cs {
		k := userKey{c.TenantID, c.UserID}
		if users[k] == nil {
			users[k] = &userState{heldIdx: -1}
			tenants, ids = append(tenants, c.TenantID), append(ids, c.UserID)
		}
	}
	// One statement, each row read by key (a locking or OFFSET subquery
	// is never flattened into a join, so no plan can scan a table
	// instead), in key order, with a generic plan (planning).
	// Planned for its arguments at every execution, it was planned every
	// time, and a plan chosen by estimates once, while the presence table
	// was small, scanned all of it per batch.
	sql := `WITH k AS MATERIALIZED (
			SELECT * FROM unnest($1::uuid[], $2::uuid[]) AS k (tenant_id, user_object_id) ORDER BY tenant_id, user_object_id
		), locked AS MATERIALIZED (
			SELECT p.* FROM k CROSS JOIN LATERAL (
				SELECT p.tenant_id, p.user_object_id, p.availability, p.activity, p.sequence, p.graph_sequence, p.mapped_state, p.observed_at,
					p.held_event, p.held_until, p.status_message, p.out_of_office, p.work_location
				FROM presence p WHERE p.tenant_id = k.tenant_id AND p.user_object_id = k.user_object_id FOR UPDATE) p
		)
		SELECT false, tenant_id, user_object_id, availability, activity, sequence, graph_sequence, mapped_state, observed_at,
			held_event, held_until, ` + richColumns + ` FROM locked
		UNION ALL
		SELECT true, x.tenant_id, x.user_object_id, lower(x.availability), lower(x.activity), 0, '', '', x.expires_at, NULL, NULL,
			NULL, NULL, NULL
		FROM k CROSS JOIN LATERAL (SELECT * FROM presence_echo x WHERE x.tenant_id = k.tenant_id AND x.user_object_id = k.user_object_id
			AND x.expires_at > now() OFFSET 0) x`
	echoes := map[echoKey]bool{}
	err := runPlanned(ctx, tx, planning{generic: true}, sql, []any{tenants, ids}, func(rows pgx.Rows) error {
		for rows.Next() {
			var echo bool
			var k userKey
			var u userState
			var held *uuid.UUID
			if err := rows.Scan(append([]any{&echo, &k.tenant, &k.user, &u.availability, &u.activity, &u.seq, &u.graphSeq, &u.mapped, &u.observed,
				&held, &u.heldUntil}, richFields(&u.rich)...)...); err != nil {
				return err
			}
			if echo {
				echoes[echoKey{k, u.availability, u.activity}] = true
				continue
			}
			if held != nil {
				u.held = *held
				if u.heldUntil == nil {
					u.heldUntil = &time.Time{} // never written so; if it were, publish at once rather than never
				}
			}
			u.exists, u.heldIdx = true, -1
			users[k] = &u
		}
		return rows.Err()
	})
	return users, echoes, err
}

// plannedEvent is a change to record as an event.
type plannedEvent struct {
	change int // index in the batch
	key    userKey
	uid    uuid.UUID
	source string
	// What becomes of it: published now (seq set, and rank: its place
	// among its tenant's events published by this batch), held (holdFor
	// from now, or until holdUntil, a deadline it took over), or
	// suppressed with a reason.
	seq, rank  int64
	holdFor    time.Duration
	holdUntil  *time.Time
	suppressed string
}

func (e *plannedEvent) published() bool { return e.seq > 0 }
func (e *plannedEvent) held() bool      { return e.holdFor > 0 || e.holdUntil != nil }

// batchPlan is what a batch will write.
type batchPlan struct {
	events     []plannedEvent
	usedEchoes []echoKey
	// Stored held events that this batch suppresses.
	unheld        []uuid.UUID
	unheldReasons []string
	// published counts the events published now, by tenant.
	published map[uuid.UUID]int64
}

// decide applies presence.Decide, the rule for one change, to the
// user's state as the batch left it, and plans what to write.
func (p *batchPlan) decide(i int, c PresenceChange, u *userState, echoes map[echoKey]bool) string {
	key := userKey{c.TenantID, c.UserID}
	ek := echoKey{key, strings.ToLower(c.Availability), strings.ToLower(c.Activity)}
	held := u.held != uuid.Nil || u.heldIdx >= 0
	v := presence.Decide(
		presence.Current{Exists: u.exists, Availability: u.availability, Activity: u.activity, Rich: u.rich, GraphSequence: u.graphSeq,
			State: presence.State(u.mapped), Held: held},
		presence.Change{Availability: c.Availability, Activity: c.Activity, Rich: c.Rich, GraphSequence: c.GraphSequence,
			State: presence.State(c.MappedState), Debounce: c.Debounce, Echo: echoes[ek], Force: c.Force})
	switch v.Outcome {
	case presence.Stale:
		return PresenceStale
	case presence.Unchanged:
		if v.NewSequence {
			u.graphSeq, u.dirty = c.GraphSequence, true
		}
		return PresenceUnchanged
	}
	ev := plannedEvent{change: i, key: key, uid: newEventID(), source: c.Source}
	switch v.Publication {
	case presence.Publish:
		u.seq++
		ev.seq = u.seq
	case presence.Hold:
		if v.TakeOverHold {
			ev.holdFor, ev.holdUntil = p.holdOf(u)
		} else {
			ev.holdFor = v.HoldFor
		}
	case presence.Suppress:
		ev.suppressed = v.Suppressed
	}
	if v.Suppressed == presence.SuppressedEcho {
		// Kept, not sent back; the echo is used up.
		ev.source = "echo"
		delete(echoes, ek)
		p.usedEchoes = append(p.usedEchoes, ek)
	}
	if v.EndHeld != "" {
		p.unhold(u, v.EndHeld)
	}
	u.availability, u.activity, u.graphSeq, u.mapped, u.observed = c.Availability, c.Activity, c.GraphSequence, c.MappedState, c.ObservedAt
	u.rich = c.Rich
	u.exists, u.dirty = true, true
	if ev.held() {
		u.heldIdx = len(p.events)
	}
	p.events = append(p.events, ev)
	return PresenceApplied
}

// holdOf is the hold of the user's held event: a duration from now for
// one planned in this batch, the stored deadline for one stored.
func (p *batchPlan) holdOf(u *userState) (time.Duration, *time.Time) {
	if u.heldIdx >= 0 {
		return p.events[u.heldIdx].holdFor, p.events[u.heldIdx].holdUntil
	}
	return 0, u.heldUntil
}

// unhold suppresses the user's held event, planned or stored.
func (p *batchPlan) unhold(u *userState, reason string) {
	if u.heldIdx >= 0 {
		ev := &p.events[u.heldIdx]
		ev.holdFor, ev.holdUntil, ev.suppressed = 0, nil, reason
	} else {
		p.unheld, p.unheldReasons = append(p.unheld, u.held), append(p.unheldReasons, reason)
	}
	u.held, u.heldUntil, u.heldIdx = uuid.Nil, nil, -1
}

// rank numbers each tenant's events published by this batch, 1, 2, …:
// their stream positions follow the tenant's last one in that order.
func (p *batchPlan) rank() {
	ranks := map[uuid.UUID]int64{}
	for i := range p.events {
		if ev := &p.events[i]; ev.published() {
			ranks[ev.key.tenant]++
			ev.rank = ranks[ev.key.tenant]
		}
	}
	p.published = ranks
}

// streamPositions is the statement fragment that takes a stream position
// for each tenant's published events: it locks the tenants' stream rows
// (made on first use; in tenant order, so batches cannot deadlock) until
// commit, so positions become visible in the order they are given and a
// reader resuming after one never skips another. Taken in the statement
// that writes the events, the lock is held for the rest of that statement
// and the commit, nothing more: every batch of a tenant passes through it.
// It reads counts (tenant_id, n) and yields s (tenant_id, position: the
// tenant's new last position; its events take position - n + rank).
const streamPositions = `s AS (
			INSERT INTO event_streams (tenant_id, position) SELECT tenant_id, n FROM counts ORDER BY tenant_id
			ON CONFLICT (tenant_id) DO UPDATE SET position = event_streams.position + excluded.position
			RETURNING tenant_id, position
		)`

// notifyStreams wakes, at commit, the stream readers and deliverers of
// the tenants in s; $1 is the channel. An uncorrelated scalar subquery: it
// runs once, as an InitPlan, when the statement first reads a row.
const notifyStreams = `(SELECT count(pg_notify($1, tenant_id::text)) FROM s)`

// newEventID is a UUIDv7: unique across databases, and in time order.
func newEventID() uuid.UUID {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.New() // the random source failed for v7: v4 is as unique
	}
	return id
}

// write stores the final presence rows (in key order, as locked), the
// events in the batch's order — so a user's events keep their order by id
// — the deliveries of those published, the tenants' last stream
// positions, the suppression of stored held events, and uses up the
// echoes. It returns the events' ids by uid.
func (p *batchPlan) write(ctx context.Context, tx querier, cs []PresenceChange, users map[userKey]*userState) (map[uuid.UUID]int64, error) {
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
		pr.add(k, users[k], p)
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
	var ct []uuid.UUID
	var cn []int64
	for t, n := range p.published {
		ct, cn = append(ct, t), append(cn, n)
	}
	// $1 is the notification channel (notifyStreams).
	sql := `WITH p AS (
			INSERT INTO presence (tenant_id, user_object_id, availability, activity, sequence, observed_at, graph_sequence, mapped_state,
				held_event, held_until, status_message, out_of_office, work_location)
			SELECT t, u, a, b, s, o, g, m, h, coalesce(hu, now() + hf * interval '1 microsecond'), sm, oo, wl
			FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::bigint[], $7::timestamptz[], $8::text[], $9::text[],
				$10::uuid[], $11::timestamptz[], $12::bigint[], $32::jsonb[], $33::jsonb[], $34::jsonb[])
				AS r (t, u, a, b, s, o, g, m, h, hu, hf, sm, oo, wl)
			ON CONFLICT (tenant_id, user_object_id) DO UPDATE SET availability = excluded.availability, activity = excluded.activity,
				sequence = excluded.sequence, observed_at = excluded.observed_at, graph_sequence = excluded.graph_sequence,
				mapped_state = excluded.mapped_state, held_event = excluded.held_event, held_until = excluded.held_until,
				status_message = excluded.status_message, out_of_office = excluded.out_of_office, work_location = excluded.work_location,
				updated_at = now()
		), x AS (
			SELECT * FROM unnest($13::uuid[], $14::uuid[], $15::uuid[], $16::bigint[], $17::bigint[], $18::text[], $19::text[], $20::text[],
				$21::text[], $22::timestamptz[], $23::text[], $35::jsonb[], $36::jsonb[], $37::jsonb[]) WITH ORDINALITY
				AS x (uid, tenant_id, user_object_id, sequence, rank, availability, activity, mapped_state, source, observed_at, suppressed,
					status_message, out_of_office, work_location, n)
		), counts AS (
			SELECT * FROM unnest($24::uuid[], $25::bigint[]) AS c (tenant_id, n)
		), ` + streamPositions + `, e AS (
			INSERT INTO presence_events (uid, tenant_id, user_object_id, sequence, position, availability, activity, mapped_state, source,
				observed_at, suppressed, status_message, out_of_office, work_location)
			SELECT x.uid, x.tenant_id, x.user_object_id, x.sequence, s.position - counts.n + x.rank, x.availability, x.activity,
				x.mapped_state, x.source, x.observed_at, x.suppressed, x.status_message, x.out_of_office, x.work_location
			FROM x LEFT JOIN s USING (tenant_id) LEFT JOIN counts USING (tenant_id) ORDER BY x.n
			RETURNING id, uid, tenant_id, user_object_id, position
		), d AS (` + queueDeliveriesByKey(`e.position IS NOT NULL`) + `
		), unheld AS (
			UPDATE presence_events SET suppressed = h.reason
			FROM unnest($26::uuid[], $27::text[]) AS h (uid, reason) WHERE presence_events.uid = h.uid AND presence_events.uid = ANY ($26)
		), used AS (
			DELETE FROM presence_echo WHERE tenant_id = ANY ($28) AND user_object_id = ANY ($29)
				AND (tenant_id, user_object_id, lower(availability), lower(activity))
				IN (SELECT * FROM unnest($28::uuid[], $29::uuid[], $30::text[], $31::text[]))
		)
		SELECT e.id, e.uid FROM e WHERE ` + notifyStreams + ` >= 0`
	args := []any{PresenceNotifyChannel,
		pr.tenant, pr.user, pr.availability, pr.activity, pr.seq, pr.observed, pr.graphSeq, pr.mapped, pr.held,
		pr.heldUntil, pr.heldFor,
		er.uid, er.tenant, er.user, er.seq, er.rank, er.availability, er.activity, er.mapped, er.source, er.observed,
		er.suppressed,
		ct, cn, p.unheld, p.unheldReasons, xt, xu, xa, xb,
		pr.rich.status, pr.rich.outOfOffice, pr.rich.workLocation, er.rich.status, er.rich.outOfOffice, er.rich.workLocation}
	ids := map[uuid.UUID]int64{}
	err := runPlanned(ctx, tx, planning{generic: true}, sql, args, func(rows pgx.Rows) error {
		for rows.Next() {
			var uid uuid.UUID
			var id int64
			if err := rows.Scan(&id, &uid); err != nil {
				return err
			}
			ids[uid] = id
		}
		return rows.Err()
	})
	return ids, err
}

// presenceRows are presence rows as columns, for unnest.
type presenceRows struct {
	tenant, user                             []uuid.UUID
	availability, activity, graphSeq, mapped []string
	seq                                      []int64
	observed                                 []time.Time
	held                                     []*uuid.UUID
	heldUntil                                []*time.Time
	heldFor                                  []*int64 // microseconds from now
	rich                                     richArrays
}

func (r *presenceRows) add(k userKey, u *userState, p *batchPlan) {
	r.tenant, r.user = append(r.tenant, k.tenant), append(r.user, k.user)
	r.availability, r.activity = append(r.availability, u.availability), append(r.activity, u.activity)
	r.graphSeq, r.mapped = append(r.graphSeq, u.graphSeq), append(r.mapped, u.mapped)
	r.seq = append(r.seq, u.seq)
	r.observed = append(r.observed, u.observed)
	r.rich.add(u.rich)
	var held *uuid.UUID
	var until *time.Time
	var hold *int64
	switch {
	case u.heldIdx >= 0:
		ev := p.events[u.heldIdx]
		held, until = &ev.uid, ev.holdUntil
		if until == nil {
			us := ev.holdFor.Microseconds()
			hold = &us
		}
	case u.held != uuid.Nil:
		held, until = &u.held, u.heldUntil
	}
	r.held, r.heldUntil, r.heldFor = append(r.held, held), append(r.heldUntil, until), append(r.heldFor, hold)
}

// eventRows are events as columns, for unnest.
type eventRows struct {
	uid, tenant, user                      []uuid.UUID
	seq, rank                              []*int64
	availability, activity, mapped, source []string
	observed                               []time.Time
	suppressed                             []*string
	rich                                   richArrays
}

func (r *eventRows) add(ev plannedEvent, c PresenceChange) {
	r.uid, r.tenant, r.user = append(r.uid, ev.uid), append(r.tenant, ev.key.tenant), append(r.user, ev.key.user)
	var seq, rank *int64
	if ev.published() {
		seq, rank = &ev.seq, &ev.rank
	}
	r.seq, r.rank = append(r.seq, seq), append(r.rank, rank)
	r.availability, r.activity = append(r.availability, c.Availability), append(r.activity, c.Activity)
	r.mapped, r.source = append(r.mapped, c.MappedState), append(r.source, ev.source)
	r.observed = append(r.observed, c.ObservedAt)
	r.rich.add(c.Rich)
	var sup *string
	if ev.suppressed != "" {
		sup = &ev.suppressed
	}
	r.suppressed = append(r.suppressed, sup)
}
