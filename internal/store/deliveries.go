package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"presencebridge/internal/presence"
)

// Delivery is one event due at one endpoint, with what its payload needs.
type Delivery struct {
	ID          int64
	TenantID    uuid.UUID
	EndpointID  uuid.UUID
	EndpointURL string
	SecretID    uuid.UUID
	// PrevSecretID signs beside SecretID while a rotation's overlap lasts.
	PrevSecretID *uuid.UUID
	Attempts     int
	// Lease is the claim's token: an outcome is recorded only with it, so
	// a worker whose lease ran out during a slow send cannot overwrite the
	// outcome of the worker that claimed the delivery again.
	Lease time.Time
	// ScheduleStart is what the retry schedule counts from: when the
	// delivery was made, or replayed.
	ScheduleStart time.Time
	// EventRecorded is when the event was written. A delivery made later
	// (ScheduleStart after it) waited for a debounce hold to end or was
	// replayed, time its latency does not count (internal/deliver).
	EventRecorded time.Time
	// Event carries Supersedes when this delivery replaced older ones.
	Event presence.EventData
}

// pendingStatus is how every query of a user's undelivered deliveries
// spells "pending": the predicate of deliveries_pending_user_idx, which no
// other index can serve (see migrations 000009 and 000013).
const pendingStatus = `status NOT IN ('delivered', 'dead', 'superseded')`

// unleased is the condition that no claim holds delivery t (a table
// alias): it was never leased, or its lease has run out. A claim sets
// leased_until and nothing indexed: it leaves next_attempt_at where it
// was, so that its update is heap-only (no index entry written; migration
// 000061 leaves room on each page for it). A delivery being sent is then
// still due by its schedule, so whatever takes deliveries to send, or
// moves or supersedes them, asks this as well. Moving next_attempt_at
// past the lease (as claims did before) wrote a new entry in each of the
// five indexes a pending delivery is in, 18–20 buffers a delivery of a
// claim's UPDATE (auto_explain, a claim of 64; issue 16).
func unleased(t string) string {
	return `(` + t + `.leased_until IS NULL OR ` + t + `.leased_until <= now())`
}

// claimedColumns are what a claim returns from claimedFrom: claimed c (the
// updated deliveries) joined with endpoints ep and the event (eventJoins);
// scan them with collectClaimed.
const claimedColumns = `c.id, c.endpoint_id, ep.url, ep.signing_secret_id, ` + previousSecret + `, c.attempts, c.leased_until,
	c.schedule_start, c.supersedes_from, c.supersedes_to, e.created_at, ` + eventColumns

const claimedFrom = `FROM claimed c
	JOIN endpoints ep ON ep.id = c.endpoint_id
	JOIN presence_events e ON e.id = c.event_id ` + eventJoins

const claimedReturning = `RETURNING d.id, d.endpoint_id, d.event_id, d.attempts, d.leased_until, d.schedule_start,
	d.supersedes_from, d.supersedes_to`

// collectClaimed scans claimed deliveries, and into extra the columns a
// statement adds after claimedColumns (the same for every row).
func collectClaimed(rows pgx.Rows, extra ...any) ([]Delivery, error) {
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var d Delivery
		var from, to *int64
		if err := rows.Scan(append([]any{&d.ID, &d.EndpointID, &d.EndpointURL, &d.SecretID, &d.PrevSecretID, &d.Attempts, &d.Lease,
			&d.ScheduleStart, &from, &to, &d.EventRecorded}, append(eventFields(&d.Event), extra...)...)...); err != nil {
			return nil, err
		}
		d.TenantID = d.Event.TenantID
		if from != nil && to != nil {
			d.Event.Supersedes = &presence.Superseded{FromSequence: *from, ToSequence: *to}
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Order per user per endpoint. A user's deliveries to an endpoint are
// sent one at a time in event order: a claim takes only the oldest pending
// one (the head), and the next becomes the head once the first is
// recorded. That holds while deliveries become pending only as they are
// made, in event order. A replay (ReplayEndpoint) puts old ones back, and
// keeps those older than a delivery that reached the endpoint (delivered,
// or leased: being sent); but it decided that from its statement's
// snapshot, and a newer delivery claimed after that snapshot went out
// before the replayed ones, which followed it (FAULTS.md bug 2: scenario
// (g), 128 webhooks out of order). Two guards close it, both in the claim:
//
//   - A replay and the claims exclude each other (orderLock): every claim
//     statement runs under the lock held shared, taken in the same
//     transaction before the statement's snapshot, and a replay takes it
//     exclusively before deciding, so each claim sees a replay entirely or
//     not at all, and the replay sees every claim before it committed.
//   - A claim refuses a replayed delivery older than a delivery of the
//     same user that reached the endpoint (overtakenBy), and supersedes it
//     and every older one of the user still queued (kept and replayable;
//     a replay keeps them): whatever made it pending again, a state older
//     than one the endpoint has or is being sent is not sent. The replay
//     marks the oldest row it puts back for each user (order_check), and
//     the claim that first takes it checks: the rows behind it have been
//     queued behind it since, where the first rule protects them. Any
//     other pending delivery has been pending since it was made, so no
//     newer one of its user can have been claimed before it.

// orderLock is the advisory lock key claims hold shared and a replay
// exclusively ("pbreplay" in ASCII).
const orderLock int64 = 0x7062_7265_706c_6179

// claimUnderOrderLock runs a claim statement under orderLock held shared:
// the lock and the claim in one batch, one round trip and one implicit
// transaction (the lock lasts until it ends), each statement with its own
// snapshot, so the claim's is taken once the lock is held. It is planned
// as p says (runPlanned; the lock is p's). Never JIT-compiled either: the
// pool's sessions run with jit off (ConfigurePool), which the claim
// showed first.
func (s *Store) claimUnderOrderLock(ctx context.Context, p planning, extra []any, sql string, args ...any) ([]Delivery, error) {
	p.sharedLock = orderLock
	var got []Delivery
	err := runPlanned(ctx, s.db, p, sql, args, func(rows pgx.Rows) error {
		var err error
		got, err = collectClaimed(rows, extra...)
		return err
	})
	return got, err
}

// overtakenBy is the newest event of head d's user, newer than d, whose
// delivery to d's endpoint reached it (NULL: none) — d must not be sent.
// It reads the user's newer events (presence_events_user_idx) and probes
// the (endpoint_id, event_id) key for each, so its cost is the user's
// events since d, not the endpoint's. Both are spelled so that the
// planner has no other way to take. The probe is a scalar subquery, not a
// join or a WHERE EXISTS: as a join it was costed as a hash join over the
// endpoint's deliveries (a sequential scan for each head). "Newer than d"
// is a row comparison that only that index can serve: as ne.id > d's
// event, the primary key served it, walking the newer events of every
// user of the tenant (EXPLAIN ANALYZE, 25 users with 1,140 events each:
// 50 ms a head).
func overtakenBy(d string) string {
	return `(SELECT max(CASE WHEN EXISTS (SELECT 1 FROM deliveries n WHERE n.endpoint_id = ` + d + `.endpoint_id AND n.event_id = ne.id
			AND ` + reached + `) THEN ne.id END)
		FROM presence_events ne
		WHERE ne.tenant_id = ` + d + `.tenant_id AND ne.user_object_id = ` + d + `.user_object_id
			AND (ne.tenant_id, ne.user_object_id, ne.id) > (` + d + `.tenant_id, ` + d + `.user_object_id, ` + d + `.event_id))`
}

// supersedeOvertaken is the CTE that supersedes, for each overtaken head
// in CTE heads (endpoint_id, user_object_id, overtaken_by), every queued
// delivery of its user older than the one that reached the endpoint.
func supersedeOvertaken() string {
	return `overtaken AS (
			` + supersedeOlder(`SELECT endpoint_id, user_object_id, overtaken_by FROM heads WHERE overtaken_by IS NOT NULL`,
		`, order_check = false`) + `
		)`
}

// supersedeOlder is an UPDATE of deliveries x that supersedes (and sets
// set), for each row of behind (endpoint_id, user_object_id, before),
// every queued, unleased delivery of that user to that endpoint whose
// event is older than before.
//
// It starts from behind's rows (none but in a replay, for a claim) and
// finds each one's older deliveries along deliveries_pending_user_idx, the
// only index in whose order (ORDER BY, with sorts off in a generic plan)
// they come; the rows it updates are found by the primary key, their state
// checked as a condition no partial index's predicate is implied by (IS
// TRUE). Written as an UPDATE … FROM heads, a claim planned from
// statistics taken once every delivery had been delivered (one pending
// row expected) walked deliveries_backlog_idx, every pending delivery, and
// matched each against every head: 88,938 × 256 comparisons, 1–5 s a
// claim, the web + 2 workers' repair of 100,000 users 3 min 25 s
// (auto_explain in TestLoadRepair; issue 16).
func supersedeOlder(behind, set string) string {
	return `UPDATE deliveries x SET status = 'superseded', leased_until = NULL` + set + `
			WHERE x.id = ANY (ARRAY(SELECT o.id FROM (` + behind + `) b (endpoint_id, user_object_id, before) CROSS JOIN LATERAL (
					SELECT o.id FROM deliveries o WHERE o.` + pendingStatus + ` AND o.endpoint_id = b.endpoint_id
						AND o.user_object_id = b.user_object_id AND o.event_id < b.before
					ORDER BY o.event_id) o))
				AND (x.` + pendingStatus + ` AND ` + unleased("x") + `) IS TRUE`
}

// ClaimDeliveries leases up to limit due deliveries for lease: for each
// endpoint and user only the oldest pending event is eligible, so a user's
// changes reach an endpoint in order; no endpoint gets more than
// perEndpoint minus what it has in flight (busy); skip lists endpoints
// not to claim for at all (open circuit breakers), and an endpoint whose
// Retry-After holds (HoldEndpoint) is not claimed for either: a 429 or 503
// with Retry-After asks for no new request before it ends (RFC 6585,
// RFC 9110 §10.2.3), not only no retry of the one answered. A claim sets
// the lease and leaves the schedule (unleased), so a worker that dies
// leaves the delivery to be claimed again once the lease ends (at least
// once, never lost), first among what is due then. A replayed
// delivery older than one of its user that reached the endpoint is
// superseded instead (see "Order per user per endpoint" above). more
// reports that deliveries were left due that could be claimed at once: the
// claim shares limit between the endpoints with something due, and one
// may have had more than its share.
//
// Its cost follows what it claims, not the backlog, nor how many
// endpoints have something pending. It first reads the due deliveries
// themselves (deliveries_due_idx), up to limit of them: while fewer are
// due, as while receivers keep up, their endpoints are all it looks at.
// Walking every endpoint with something pending at every claim (a probe
// each) cost 300–430 µs of the database's CPU a delivery with 1,000
// endpoints each waiting on something and 20 due a claim, 150–210 µs
// since (BenchmarkClaimingAtAThousandEndpointsWithSomethingPending; the
// load run at 1,000 changes/s had 1,000 such endpoints). With limit or
// more due (a backlog) it walks them, skipping through
// deliveries_due_endpoint_idx. It orders those with room by their oldest
// due delivery, gives the first limit of them an equal share of limit,
// and walks only that many of each one's due deliveries, oldest
// first, checking each is its user's head. Numbering every due delivery
// of every endpoint instead (a window over them all, each checked) cost
// 234 ms a claim while a repair of 20,000 users over 100 endpoints
// drained (43,000 buffers a claim; 88 claims, 20.6 s of the database's
// time for 20,000 deliveries: BenchmarkDrainingARepairOf20000UsersOver100Tenants).
// The query is planned once per connection (a generic plan, planning):
// every table access in it is an index probe, a LIMIT or a LATERAL
// subquery that no plan can turn into a scan, so planning it for its
// arguments at every execution bought nothing and was half of a claim's
// CPU, 150 → 82 µs a delivery in the benchmark above. A plan made on an
// empty database and used while a repair of 20,000 users over 100
// endpoints drained took 54–57 µs a delivery, against 80 planned per
// claim. (A generic plan of an earlier form of the claim, made while the
// table was small, nested a scan of every pending delivery inside one of
// every due delivery: 1.5 s a claim at a backlog of 3,400, cb8389f.)
func (s *Store) ClaimDeliveries(ctx context.Context, limit int, lease time.Duration, skip []uuid.UUID, perEndpoint int, busy map[uuid.UUID]int) (claimed []Delivery, more bool, err error) {
	if skip == nil {
		skip = []uuid.UUID{} // NULL would make "NOT (id = ANY(skip))" NULL: nothing claimed
	}
	busyIDs := make([]uuid.UUID, 0, len(busy))
	busyN := make([]int32, 0, len(busy))
	for id, n := range busy {
		busyIDs, busyN = append(busyIDs, id), append(busyN, int32(n))
	}
	v, err := s.claimUnderOrderLock(ctx, planning{generic: true}, []any{&more}, `
		WITH RECURSIVE sample AS (
			-- The due deliveries, as many as the claim may take ($1): all of
			-- them while fewer are due. Along deliveries_due_idx, whose
			-- predicate only this spelling implies, and in its order, so that
			-- no plan can hope to stop a scan of the table early (one costed
			-- from statistics that saw most rows due would read every
			-- delivered one). Those being sent come first in that order (a
			-- claim leaves their schedule: unleased), as many as the
			-- deliverers hold, each checked in the heap.
			SELECT d.endpoint_id, d.next_attempt_at, d.id FROM deliveries d
			WHERE d.status = 'pending' AND d.attempts >= 0 AND d.next_attempt_at <= now() AND `+unleased("d")+`
			ORDER BY d.next_attempt_at LIMIT $1
		), walked AS (
			-- Only when the sample is not all that is due: every endpoint with
			-- a pending delivery, one probe of deliveries_pending_user_idx
			-- each, which only this spelling and order imply.
			(SELECT d.endpoint_id FROM deliveries d WHERE d.`+pendingStatus+` AND (SELECT count(*) FROM sample) >= $1
				ORDER BY d.endpoint_id, d.user_object_id, d.event_id LIMIT 1)
			UNION ALL
			SELECT (SELECT d.endpoint_id FROM deliveries d WHERE d.`+pendingStatus+` AND d.endpoint_id > a.endpoint_id
				ORDER BY d.endpoint_id, d.user_object_id, d.event_id LIMIT 1)
			FROM walked a WHERE a.endpoint_id IS NOT NULL
		), active AS (
			-- Each endpoint with something due and its oldest due (at, id):
			-- from the sample while it holds every due delivery, else found
			-- below for each walked endpoint.
			(SELECT DISTINCT ON (endpoint_id) endpoint_id, next_attempt_at AS at, id FROM sample WHERE (SELECT count(*) FROM sample) < $1
				ORDER BY endpoint_id, next_attempt_at, id)
			UNION ALL
			SELECT endpoint_id, NULL, NULL FROM walked WHERE endpoint_id IS NOT NULL
		), ready AS (
			-- Those with room and something due, with their oldest due. A
			-- walked endpoint's is probed from the oldest due of all (the
			-- sample's first), which no unleased due delivery precedes: not
			-- from the front of its deliveries_due_endpoint_idx range, where
			-- those being sent and every delivery recorded since the last
			-- vacuum left an entry.
			SELECT a.endpoint_id, $6 - coalesce(busy.used, 0) AS room, coalesce(a.at, f.at) AS at, coalesce(a.id, f.id) AS id
			FROM active a
			LEFT JOIN unnest($4::uuid[], $5::int[]) AS busy (endpoint_id, used) ON busy.endpoint_id = a.endpoint_id
			LEFT JOIN LATERAL (SELECT d.next_attempt_at AS at, d.id FROM deliveries d
				WHERE a.at IS NULL AND d.endpoint_id = a.endpoint_id AND d.status = 'pending'
					AND d.next_attempt_at >= (SELECT min(s.next_attempt_at) FROM sample s) AND d.next_attempt_at <= now()
					AND `+unleased("d")+`
				ORDER BY d.next_attempt_at, d.id LIMIT 1) f ON true
			WHERE coalesce(a.at, f.at) IS NOT NULL AND NOT (a.endpoint_id = ANY($3::uuid[])) AND $6 - coalesce(busy.used, 0) > 0
				-- Not while the endpoint's Retry-After holds (HoldEndpoint): one
				-- read of the held ones, not a probe for each endpoint.
				AND NOT (a.endpoint_id = ANY (ARRAY(SELECT ra.endpoint_id FROM endpoint_retry_after ra WHERE ra.until > now())))
		), top AS (
			SELECT r.*, least(r.room, ceil($1::numeric / count(*) OVER ())::int) AS share
			FROM (SELECT * FROM ready ORDER BY at LIMIT $1) r
		), due AS (
			-- Each one's heads, oldest first, one more than its share: to
			-- tell whether it had more.
			SELECT h.*, top.room, top.share, row_number() OVER (PARTITION BY h.endpoint_id ORDER BY h.next_attempt_at, h.id) AS rn
			FROM top CROSS JOIN LATERAL (
				SELECT d.id, d.tenant_id, d.endpoint_id, d.user_object_id, d.event_id, d.order_check, d.next_attempt_at
				FROM deliveries d
				WHERE d.endpoint_id = top.endpoint_id AND d.status = 'pending' AND d.next_attempt_at <= now() AND `+unleased("d")+`
					-- From its oldest due on, not from the front of its range.
					AND (d.next_attempt_at, d.id) >= (top.at, top.id)
					-- The head of its user's pending deliveries to the endpoint: a
					-- probe of deliveries_pending_user_idx.
					AND d.event_id = (SELECT p.event_id FROM deliveries p WHERE p.`+pendingStatus+`
						AND p.endpoint_id = d.endpoint_id AND p.user_object_id = d.user_object_id ORDER BY p.event_id LIMIT 1)
				ORDER BY d.next_attempt_at, d.id LIMIT top.share + 1) h
		), eligible AS (
			SELECT * FROM due WHERE rn <= share
		), picked AS (
			SELECT * FROM eligible ORDER BY next_attempt_at, id LIMIT $1
		), heads AS (
			-- Only what was picked is checked: checking every due head, a
			-- claim during a replay to 1,000 users read 346,000 buffers.
			SELECT p.id, p.endpoint_id, p.user_object_id, CASE WHEN p.order_check THEN `+overtakenBy("p")+` END AS overtaken_by
			FROM picked p
		), `+supersedeOvertaken()+`, locked AS (
			-- Those no other claim is taking (SKIP LOCKED): two claimers see
			-- the same oldest due deliveries, and one that waited for the
			-- other's rows found them leased once free, having taken the
			-- rest's time (TestAClaimDoesNotWaitForTheDeliveriesAnotherIsTaking).
			-- Still pending and due once locked (another claim may have taken
			-- it since this statement's snapshot), checked on the rows the
			-- primary key finds: written as a plain condition, the planner
			-- could match it to deliveries_due_endpoint_idx and read every due
			-- delivery's entry beside the key's (a BitmapAnd: 3,500 buffers a
			-- claim of 256 while 20,000 were due, statistics taken before).
			SELECT d.id FROM deliveries d
			WHERE d.id = ANY (ARRAY(SELECT id FROM heads WHERE overtaken_by IS NULL))
				AND (d.status = 'pending' AND d.next_attempt_at <= now() AND `+unleased("d")+`) IS TRUE
			FOR UPDATE OF d SKIP LOCKED
		), claimed AS (
			-- What locked holds: checked there, and no one else's to change.
			UPDATE deliveries d SET leased_until = now() + $2::interval, order_check = false
			WHERE d.id = ANY (ARRAY(SELECT id FROM locked))
			`+claimedReturning+`
		)
		SELECT `+claimedColumns+`,
			(SELECT count(*) FROM ready) > (SELECT count(*) FROM top)
				OR EXISTS (SELECT 1 FROM due WHERE rn > share AND rn <= room)
				OR (SELECT count(*) FROM eligible) > $1
		`+claimedFrom,
		limit, lease.String(), skip, busyIDs, busyN, perEndpoint)
	return v, more, wrap("claim deliveries", err)
}

// probeCandidates is how many of an endpoint's heads, newest first, a probe
// looks at: the first not overtaken is sent, the overtaken among them are
// superseded (the next probe looks further). A bound, so that the check
// costs a probe at most that many users' histories.
const probeCandidates = 16

// ClaimProbe leases one delivery of a failing endpoint whatever its
// schedule says, to learn whether the endpoint is back: the head of a
// user's pending deliveries (order holds), that user's most recent one
// first (the state most worth getting through). ok is false when the
// endpoint has nothing to send, everything is leased, or the endpoint's
// Retry-After (HoldEndpoint) has not passed: whatever a process's circuit
// says, the endpoint asked not to be sent anything before it. Like
// ClaimDeliveries it runs under orderLock and supersedes overtaken
// replayed heads instead of sending them: the regular claim skips an
// endpoint whose circuit is open, and left to it they would wait there.
func (s *Store) ClaimProbe(ctx context.Context, endpointID uuid.UUID, lease time.Duration) (Delivery, bool, error) {
	got, err := s.claimUnderOrderLock(ctx, planning{}, nil, `
		WITH cand AS (
			SELECT d.id FROM deliveries d
			WHERE d.endpoint_id = $1 AND d.`+pendingStatus+` AND `+unleased("d")+`
				AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.`+pendingStatus+` AND p.endpoint_id = d.endpoint_id
					AND p.user_object_id = d.user_object_id AND p.event_id < d.event_id)
			ORDER BY d.event_id DESC LIMIT $3
		), heads AS (
			SELECT d.id, d.endpoint_id, d.user_object_id, d.event_id,
				CASE WHEN d.order_check THEN `+overtakenBy("d")+` END AS overtaken_by
			FROM deliveries d WHERE d.id = ANY (ARRAY(SELECT id FROM cand))
		), `+supersedeOvertaken()+`, picked AS (
			SELECT d.id FROM heads h JOIN deliveries d ON d.id = h.id
			WHERE h.overtaken_by IS NULL
				AND NOT EXISTS (SELECT 1 FROM endpoint_retry_after ra WHERE ra.endpoint_id = $1 AND ra.until > now())
			ORDER BY h.event_id DESC LIMIT 1
			FOR UPDATE OF d SKIP LOCKED
		), claimed AS (
			UPDATE deliveries d SET leased_until = now() + $2::interval, order_check = false
			WHERE d.id IN (SELECT id FROM picked) AND d.status = 'pending' AND `+unleased("d")+`
			`+claimedReturning+`
		)
		SELECT `+claimedColumns+` `+claimedFrom, endpointID, lease.String(), probeCandidates)
	if err != nil || len(got) == 0 {
		return Delivery{}, false, wrap("claim probe", err)
	}
	return got[0], true, nil
}

// HoldEndpoint records that an endpoint asked, by a 429 or 503 with
// Retry-After, not to be sent anything for d from now (by the database's
// clock, which ClaimDeliveries, ClaimProbe and RetryEndpoint read): the
// latest such time is kept.
func (s *Store) HoldEndpoint(ctx context.Context, endpointID uuid.UUID, d time.Duration) error {
	_, err := s.db.Exec(ctx, `INSERT INTO endpoint_retry_after (endpoint_id, until) VALUES ($1, now() + make_interval(secs => $2))
		ON CONFLICT (endpoint_id) DO UPDATE SET until = greatest(endpoint_retry_after.until, excluded.until)`, endpointID, d.Seconds())
	return wrap("hold endpoint", err)
}

// DeliverySucceeded marks a delivery delivered, if lease still holds it.
func (s *Store) DeliverySucceeded(ctx context.Context, id int64, lease time.Time, status int) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, last_status = $3, last_error = NULL,
		delivered_at = now(), leased_until = NULL WHERE id = $1 AND leased_until = $2`, id, lease, status)
	return tag.RowsAffected() == 1, wrap("delivery succeeded", err)
}

// DeliveriesSucceeded marks deliveries delivered in one statement (ids,
// leases and statuses pair up), each only if its lease still holds it. It
// reports whether any of them has a successor: a later pending delivery
// of the same user to the same endpoint, which only now may be claimed.
// Planned once per connection (planning): the deliveries are found by
// their key (= ANY of ids, which only the primary key serves once
// sequential scans are off) and each successor by a probe of
// deliveries_pending_user_idx. Planned at every execution, planning was
// most of the statement's CPU (BenchmarkClaimingAtAThousandEndpointsWithSomethingPending,
// the record's figure).
func (s *Store) DeliveriesSucceeded(ctx context.Context, ids []int64, leases []time.Time, statuses []int32) (bool, error) {
	var next bool
	err := runPlanned(ctx, s.db, planning{generic: true}, `WITH done AS (
			UPDATE deliveries d SET status = 'delivered', attempts = d.attempts + 1, last_status = x.status, last_error = NULL,
				delivered_at = now(), leased_until = NULL
			FROM unnest($1::bigint[], $2::timestamptz[], $3::int[]) AS x (id, lease, status)
			WHERE d.id = ANY ($1) AND d.id = x.id AND d.leased_until = x.lease
			RETURNING d.endpoint_id, d.user_object_id, d.event_id
		)
		SELECT EXISTS (SELECT 1 FROM done WHERE (SELECT n.event_id FROM deliveries n WHERE n.`+pendingStatus+`
			AND n.endpoint_id = done.endpoint_id AND n.user_object_id = done.user_object_id AND n.event_id > done.event_id
			ORDER BY n.event_id LIMIT 1) IS NOT NULL)`,
		[]any{ids, leases, statuses}, func(rows pgx.Rows) error {
			if rows.Next() {
				return rows.Scan(&next)
			}
			return rows.Err()
		})
	return next, wrap("deliveries succeeded", err)
}

// DeliveryFailed records a failed attempt, if lease still holds the
// delivery: retried at next, or dead when next is zero (the schedule is
// spent). recorded is false when the lease was lost.
func (s *Store) DeliveryFailed(ctx context.Context, id int64, lease time.Time, status int, reason string, next time.Time) (bool, error) {
	var at *time.Time
	if !next.IsZero() {
		at = &next
	}
	tag, err := s.db.Exec(ctx, `UPDATE deliveries SET status = CASE WHEN $5::timestamptz IS NULL THEN 'dead' ELSE status END,
		attempts = attempts + 1, last_status = nullif($3, 0), last_error = $4, next_attempt_at = coalesce($5, next_attempt_at),
		leased_until = NULL
		WHERE id = $1 AND leased_until = $2`, id, lease, status, reason, at)
	return tag.RowsAffected() == 1, wrap("delivery failed", err)
}

// RenewDelivery extends the claim that lease names by d from now, so that
// a delivery that waited for a free slot is still held while it is sent,
// and returns the claim's new token. ok is false when that claim no longer
// holds the delivery — its lease ran out and another claim took it, or it
// was superseded, disabled or recorded — and then it must not be sent: a
// stale copy could reach the endpoint after the user's next event.
func (s *Store) RenewDelivery(ctx context.Context, id int64, lease time.Time, d time.Duration) (next time.Time, ok bool, err error) {
	err = s.db.QueryRow(ctx, `UPDATE deliveries SET leased_until = now() + $3::interval
		WHERE id = $1 AND leased_until = $2 AND status = 'pending' RETURNING leased_until`, id, lease, d.String()).Scan(&next)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	return next, err == nil, wrap("renew delivery", err)
}

// PostponeDelivery puts a claimed delivery back, due at at, without
// counting an attempt (its endpoint's circuit is open).
func (s *Store) PostponeDelivery(ctx context.Context, id int64, lease, at time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE deliveries SET next_attempt_at = $3, leased_until = NULL WHERE id = $1 AND leased_until = $2`, id, lease, at)
	return wrap("postpone delivery", err)
}

// SupersedeBehindFailures applies "latest state wins" at every endpoint:
// where a user's oldest pending delivery has failed at least once and a
// newer one waits behind it, the older ones are marked superseded and the
// newest becomes due at once, carrying the range of sequences it replaced
// (merged with any range they carried). A leased delivery is never
// superseded (it may be on the wire: the newer one must not overtake it);
// its user is looked at again once its outcome is recorded. It returns how
// many deliveries were superseded, by endpoint.
//
// It starts from deliveries_failed_idx, empty while receivers answer, so
// it costs nothing on a healthy system.
func (s *Store) SupersedeBehindFailures(ctx context.Context) (map[uuid.UUID]int64, error) {
	return s.supersede(ctx, "supersede behind failures", "h.attempts > 0")
}

// SupersedeAtFailingEndpoints applies "latest state wins" at endpoints
// known to be failing (their circuit is open: internal/deliver), as
// SupersedeBehindFailures does, for every user with a newer delivery
// waiting, whether or not the user's oldest has been tried: an open
// circuit sends only one probe at a time, and the probe takes the head
// with the newest event — after one user's states are superseded, that
// user's newest again — so the other users' heads are never tried, and
// without this their whole backlog went out in order when the endpoint
// came back (FAULTS.md, scenario (j): 5,000 states of 20 users after 2
// hours down, each user's newest 30 s after the return). It starts from
// those endpoints' pending deliveries (deliveries_pending_user_idx).
func (s *Store) SupersedeAtFailingEndpoints(ctx context.Context, endpoints []uuid.UUID) (map[uuid.UUID]int64, error) {
	if len(endpoints) == 0 {
		return map[uuid.UUID]int64{}, nil
	}
	return s.supersede(ctx, "supersede at failing endpoints", "h.endpoint_id = ANY($1::uuid[])", endpoints)
}

// supersede supersedes, behind each user's newest pending delivery, the
// older ones of the users whose oldest pending delivery (h, the head)
// matches heads.
func (s *Store) supersede(ctx context.Context, what, heads string, args ...any) (map[uuid.UUID]int64, error) {
	out := map[uuid.UUID]int64{}
	err := runPlanned(ctx, s.db, planning{generic: true}, `
		WITH heads AS (
			SELECT h.endpoint_id, h.user_object_id, h.event_id FROM deliveries h
			WHERE h.status = 'pending' AND `+heads+` AND `+unleased("h")+`
				AND h.event_id = (SELECT p.event_id FROM deliveries p WHERE p.`+pendingStatus+`
					AND p.endpoint_id = h.endpoint_id AND p.user_object_id = h.user_object_id ORDER BY p.event_id LIMIT 1)
			-- In the order of deliveries_failed_idx and deliveries_pending_user_idx,
			-- which only they give (sorts off): read by an index whose
			-- predicate its condition implies, a plan made while nothing was
			-- pending read every due delivery to find the failed ones.
			ORDER BY h.endpoint_id, h.user_object_id, h.event_id
		), newest AS (
			SELECT heads.endpoint_id, heads.user_object_id, n.id, n.event_id FROM heads
			CROSS JOIN LATERAL (SELECT p.id, p.event_id FROM deliveries p WHERE p.`+pendingStatus+`
				AND p.endpoint_id = heads.endpoint_id AND p.user_object_id = heads.user_object_id ORDER BY p.event_id DESC LIMIT 1) n
			WHERE n.event_id > heads.event_id
		), gone AS (
			`+supersedeOlder(`SELECT endpoint_id, user_object_id, event_id FROM newest`, ``)+`
			RETURNING x.endpoint_id, x.user_object_id, x.event_id, x.supersedes_from, x.order_check
		), ranges AS (
			SELECT g.endpoint_id, g.user_object_id, min(coalesce(g.supersedes_from, e.sequence)) AS from_seq,
				max(e.sequence) AS to_seq, count(*) AS n, bool_or(g.order_check) AS order_check
			FROM gone g JOIN presence_events e ON e.id = g.event_id GROUP BY g.endpoint_id, g.user_object_id
		), carriers AS (
			-- Each range's newest, probed by its user's key (the statement's
			-- snapshot does not see gone's changes, so it finds what newest
			-- found). Joined to newest instead, the plan matched every range
			-- against every newest: 79,800 rows compared for 400 users at one
			-- failing endpoint, growing with the square of them.
			SELECT r.*, (SELECT p.id FROM deliveries p WHERE p.`+pendingStatus+` AND p.endpoint_id = r.endpoint_id
				AND p.user_object_id = r.user_object_id ORDER BY p.event_id DESC LIMIT 1) AS id
			FROM ranges r
		)
		-- A replayed delivery's order_check (see ClaimDeliveries) goes to the
		-- newest, which is sent in its place.
		UPDATE deliveries d SET supersedes_from = least(d.supersedes_from, r.from_seq), supersedes_to = greatest(d.supersedes_to, r.to_seq),
			next_attempt_at = least(d.next_attempt_at, now()), order_check = d.order_check OR r.order_check
		FROM carriers r
		WHERE d.id = r.id
		RETURNING d.endpoint_id, r.n`, args, func(rows pgx.Rows) error {
		for rows.Next() {
			var ep uuid.UUID
			var n int64
			if err := rows.Scan(&ep, &n); err != nil {
				return err
			}
			out[ep] += n
		}
		return rows.Err()
	})
	return out, wrap(what, err)
}

// PendingAge is how old an endpoint's oldest pending delivery is.
type PendingAge struct {
	EndpointID uuid.UUID
	Age        time.Duration
}

// OldestPending lists, for every endpoint with pending deliveries, the age
// of the oldest (by the database's clock).
func (s *Store) OldestPending(ctx context.Context) ([]PendingAge, error) {
	rows, err := s.db.Query(ctx, `SELECT endpoint_id, extract(epoch FROM now() - min(created_at))::float8 FROM deliveries
		WHERE status = 'pending' GROUP BY endpoint_id`)
	if err != nil {
		return nil, wrap("oldest pending", err)
	}
	v, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PendingAge, error) {
		var a PendingAge
		var secs float64
		err := r.Scan(&a.EndpointID, &secs)
		a.Age = time.Duration(secs * float64(time.Second))
		return a, err
	})
	return v, wrap("oldest pending", err)
}

// Delivery statuses, as stored and as the API shows them.
const (
	DeliveryPending    = "pending"    // waiting to be sent, or retried
	DeliveryDelivered  = "delivered"  // the endpoint answered 2xx
	DeliveryDead       = "dead"       // the retry schedule ran out, or the endpoint was disabled
	DeliverySuperseded = "superseded" // a newer state of the user replaced it while the endpoint failed
)

// DeliveryStatuses lists every delivery status.
var DeliveryStatuses = []string{DeliveryPending, DeliveryDelivered, DeliveryDead, DeliverySuperseded}

// LoggedDelivery is one delivery as an endpoint's log shows it.
type LoggedDelivery struct {
	ID       int64
	EventID  uuid.UUID
	User     presence.EventUser
	Sequence int64
	Status   string
	Attempts int
	// LastStatus is the HTTP status of the last attempt (nil: none, or no
	// answer); LastError what went wrong with it.
	LastStatus    *int
	LastError     string
	CreatedAt     time.Time
	NextAttemptAt *time.Time // pending only
	DeliveredAt   *time.Time
	// Cursor orders the log: pass the last one's as DeliveryPage.Before.
	Cursor int64
}

// DeliveryPage picks a page of an endpoint's deliveries, newest first.
type DeliveryPage struct {
	Status string // one of DeliveryStatuses; "": all
	Before int64  // the Cursor of the page before's last; 0: the first page
	Limit  int
}

// EndpointDeliveries is a page of an endpoint's deliveries, newest event
// first, along the (endpoint_id, event_id) unique index. A pending one
// being sent is next tried when its lease ends, should its sender not
// record an outcome (a claim leaves next_attempt_at: unleased). The page is
// taken before its events are joined: joined first, the planner merged
// the endpoint's deliveries with every tenant's events in id order, and
// walked past a busier neighbour's newer events (250,000: 170 ms) to
// find the page's 20.
func (s *Store) EndpointDeliveries(ctx context.Context, tenantID, endpointID uuid.UUID, p DeliveryPage) ([]LoggedDelivery, error) {
	rows, err := s.db.Query(ctx, `SELECT d.id, e.uid, e.user_object_id, coalesce(u.upn, ''), coalesce(u.external_id, ''), coalesce(e.sequence, 0),
			d.status, d.attempts, d.last_status, coalesce(d.last_error, ''), d.created_at,
			CASE WHEN d.status = 'pending' THEN greatest(d.next_attempt_at, d.leased_until) END, d.delivered_at, d.event_id
		FROM (SELECT * FROM deliveries WHERE tenant_id = $1 AND endpoint_id = $2 AND ($3 = '' OR status = $3) AND ($4 = 0 OR event_id < $4)
			ORDER BY event_id DESC LIMIT $5) d
		JOIN presence_events e ON e.id = d.event_id
		LEFT JOIN directory_users u ON u.tenant_id = e.tenant_id AND u.object_id = e.user_object_id
		ORDER BY d.event_id DESC`, tenantID, endpointID, p.Status, p.Before, p.Limit)
	if err != nil {
		return nil, wrap("endpoint deliveries", err)
	}
	v, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LoggedDelivery, error) {
		var d LoggedDelivery
		return d, r.Scan(&d.ID, &d.EventID, &d.User.ObjectID, &d.User.UPN, &d.User.TelephonyID, &d.Sequence, &d.Status, &d.Attempts,
			&d.LastStatus, &d.LastError, &d.CreatedAt, &d.NextAttemptAt, &d.DeliveredAt, &d.Cursor)
	})
	return v, wrap("endpoint deliveries", err)
}
