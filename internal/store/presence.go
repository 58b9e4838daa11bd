package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"presencebridge/internal/presence"
)

// PresenceChange is one observed presence of a user.
type PresenceChange struct {
	TenantID     uuid.UUID
	UserID       uuid.UUID
	Availability string
	Activity     string
	// Rich is the rest of what Graph said (status message, out of office,
	// work location). A change is compared, stored and published with it
	// whole: a source that does not read Graph must copy the stored one.
	Rich          presence.Rich
	GraphSequence string // Graph's sequenceNumber, lexicographically ordered; "" if unknown
	MappedState   string
	Source        string // notification, repair, sync or api
	// Force: a sync asked for the user's current state, so the same state
	// again is a new event too (presence.Change.Force); such a change's
	// Source is "sync".
	Force      bool
	ObservedAt time.Time
	// Debounce is the tenant's window for talking flaps: a change that
	// leaves "talking" is held that long, and dropped downstream if talking
	// resumes within it (a call escalated to a meeting reaches the platform
	// as one talking period).
	Debounce time.Duration
}

// PresenceEvent is a stored change, with its per-user sequence.
type PresenceEvent struct {
	ID       int64
	Sequence int64
}

// Outcomes of ApplyPresence (presence.Decide's).
const (
	PresenceApplied   = string(presence.Applied)
	PresenceStale     = string(presence.Stale)
	PresenceUnchanged = string(presence.Unchanged)
)

// NotifyPresence wakes stream readers and deliverers of tenants at commit
// (NOTIFY is transactional), for changes made outside ApplyPresenceBatch
// and PublishHeld, which wake them themselves.
func (s Tx) NotifyPresence(ctx context.Context, tenants ...uuid.UUID) error {
	for _, t := range tenants {
		if _, err := s.db.Exec(ctx, `SELECT pg_notify($1, $2)`, PresenceNotifyChannel, t.String()); err != nil {
			return wrap("notify presence", err)
		}
	}
	return nil
}

// ApplyPresence records a change in tx under the user's row lock: a change
// older than the stored one (by Graph's sequenceNumber) is dropped, the
// same state again records nothing (unless Force), anything else updates
// the presence row, stamps the next per-user sequence, appends a
// presence_event and queues one delivery per endpoint of the tenant
// (queueDeliveries). It is ApplyPresenceBatch for one change.
func (s Tx) ApplyPresence(ctx context.Context, c PresenceChange) (string, PresenceEvent, error) {
	outcomes, events, err := s.ApplyPresenceBatch(ctx, []PresenceChange{c})
	if err != nil {
		return "", PresenceEvent{}, wrap("apply presence", err)
	}
	return outcomes[0], events[0], nil
}

// Presence is a user's stored presence.
type Presence struct {
	TenantID     uuid.UUID
	UserID       uuid.UUID
	Availability string
	Activity     string
	Rich         presence.Rich
	Sequence     int64
	MappedState  string
	ObservedAt   time.Time
}

// GetPresence reads a user's stored presence.
func (s *Store) GetPresence(ctx context.Context, tenantID, userID uuid.UUID) (Presence, error) {
	p := Presence{TenantID: tenantID, UserID: userID}
	err := s.db.QueryRow(ctx, `SELECT availability, activity, `+richColumns+`, sequence, mapped_state, observed_at FROM presence
		WHERE tenant_id = $1 AND user_object_id = $2`, tenantID, userID).Scan(
		append([]any{&p.Availability, &p.Activity}, append(richFields(&p.Rich), &p.Sequence, &p.MappedState, &p.ObservedAt)...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, pgx.ErrNoRows
	}
	return p, wrap("get presence", err)
}

// QueueResync asks for a user's presence to be re-read.
func (s *Store) QueueResync(ctx context.Context, tenantID, userID uuid.UUID, reason string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO presence_resync (tenant_id, user_object_id, reason) VALUES ($1, $2, $3)`+requeue, tenantID, userID, reason)
	return wrap("queue resync", err)
}

// QueueMonitorResync asks for every user assigned to a monitor (its
// subscription's users) to be re-read, in one statement.
func (s *Store) QueueMonitorResync(ctx context.Context, tenantID, monitorID uuid.UUID, reason string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO presence_resync (tenant_id, user_object_id, reason)
		SELECT tenant_id, object_id, $3 FROM directory_users WHERE tenant_id = $1 AND monitor_id = $2 AND object_id IS NOT NULL`+requeue,
		tenantID, monitorID, reason)
	return wrap("queue monitor resync", err)
}

// requeue: a request made while a re-read is under way moves queued_at, so
// the re-read's clean-up (ClearResyncs) leaves it for the next one.
const requeue = `
		ON CONFLICT (tenant_id, user_object_id) DO UPDATE SET reason = excluded.reason, queued_at = excluded.queued_at`

// RecordSubscriptionEvent hands a lifecycle notification to the engine.
func (s *Store) RecordSubscriptionEvent(ctx context.Context, subscriptionID uuid.UUID, event string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO subscription_events (subscription_id, event) VALUES ($1, $2)`, subscriptionID, event)
	return wrap("record subscription event", err)
}

// TouchSubscription stamps a subscription's last notification.
func (s *Store) TouchSubscription(ctx context.Context, id uuid.UUID, at time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE subscriptions SET last_notification_at = greatest(coalesce(last_notification_at, $2), $2) WHERE id = $1`, id, at)
	return wrap("touch subscription", err)
}

// PresenceNotifyChannel is the LISTEN/NOTIFY channel ApplyPresence
// signals on; the payload is the tenant id.
const PresenceNotifyChannel = "pb_presence"

// InboxNotifyChannel is signalled when notifications reach the inbox.
const InboxNotifyChannel = "pb_inbox"

// RecordEcho notes a presence Presence Bridge is about to set in Teams for
// the platform, so the resulting change is not sent back (for ttl).
func (s *Store) RecordEcho(ctx context.Context, tenantID, userID uuid.UUID, availability, activity string, ttl time.Duration) error {
	_, err := s.db.Exec(ctx, `INSERT INTO presence_echo (tenant_id, user_object_id, availability, activity, expires_at)
		VALUES ($1, $2, $3, $4, now() + $5::interval)
		ON CONFLICT (tenant_id, user_object_id, availability, activity) DO UPDATE SET expires_at = excluded.expires_at`,
		tenantID, userID, availability, activity, ttl.String())
	return wrap("record echo", err)
}

// Resyncs are users queued for a re-read, as PendingResyncs lists them.
type Resyncs struct {
	Users []string // oldest first
	// Sync holds those of Users a sync asked for (POST /api/v1/sync): their
	// re-read is sent on as an event even when unchanged (PresenceChange.Force).
	Sync map[string]bool
	// UpTo is the latest queued_at among them: ClearResyncs with it
	// removes them once re-read, and only them.
	UpTo time.Time
}

// PendingResyncs lists up to limit users queued for a re-read
// (presence_resync), oldest first.
func (s *Store) PendingResyncs(ctx context.Context, tenantID uuid.UUID, limit int) (Resyncs, error) {
	rows, err := s.db.Query(ctx, `SELECT user_object_id::text, queued_at, sync_at IS NOT NULL FROM presence_resync WHERE tenant_id = $1
		ORDER BY queued_at LIMIT $2`, tenantID, limit)
	if err != nil {
		return Resyncs{}, wrap("pending resyncs", err)
	}
	defer rows.Close()
	q := Resyncs{Sync: map[string]bool{}}
	for rows.Next() {
		var u string
		var at time.Time
		var sync bool
		if err := rows.Scan(&u, &at, &sync); err != nil {
			return Resyncs{}, wrap("pending resyncs", err)
		}
		q.Users = append(q.Users, u)
		if sync {
			q.Sync[u] = true
		}
		if at.After(q.UpTo) {
			q.UpTo = at
		}
	}
	return q, wrap("pending resyncs", rows.Err())
}

// ClearResyncs removes re-read users from the queue, unless asked again
// after upTo (no lock is held while Graph is read, so the intake never
// waits for a repair). One asked for again keeps its place, but a sync's
// mark from before upTo goes: its forced re-read was this one, and the
// next is a sync's only if a sync asks again.
func (s *Store) ClearResyncs(ctx context.Context, tenantID uuid.UUID, users []string, upTo time.Time) error {
	if len(users) == 0 {
		return nil
	}
	// The two statements touch different rows (queued_at ≤ upTo or after),
	// as one statement may not change a row twice.
	_, err := s.db.Exec(ctx, `WITH cleared AS (
			DELETE FROM presence_resync WHERE tenant_id = $1 AND user_object_id = ANY($2::uuid[]) AND queued_at <= $3
		)
		UPDATE presence_resync SET sync_at = NULL
		WHERE tenant_id = $1 AND user_object_id = ANY($2::uuid[]) AND queued_at > $3 AND sync_at <= $3`,
		tenantID, users, upTo)
	return wrap("clear resyncs", err)
}

// HeldPresence is the presence we hold for a user, as a repair compares it.
type HeldPresence struct {
	Availability, Activity, GraphSequence string
	Rich                                  presence.Rich
}

// HeldPresences reads what we hold for users (absent: never seen).
func (s *Store) HeldPresences(ctx context.Context, tenantID uuid.UUID, users []uuid.UUID) (map[uuid.UUID]HeldPresence, error) {
	return s.heldPresences(ctx, len(users), `AND user_object_id = ANY($2)`, tenantID, users)
}

// TenantPresences reads what we hold for every user of a tenant, for a
// repair that re-reads all of them (engine). One walk of the tenant's
// range of presence_pkey: HeldPresences with all of them descends the
// index once a user, 2.8 buffers a user and 4.9–6.4 s of PostgreSQL's
// time in the load run's repair, which compares 1,000,000 users
// (pg_stat_statements, TestLoadRepair; issue 16). users is about how
// many there are (the map is made that size): grown from empty, a
// tenant of 1,000 users took 666 bytes a user against 470
// (BenchmarkReadingTheHeldPresenceOf1000UsersWithRichPresence).
func (s *Store) TenantPresences(ctx context.Context, tenantID uuid.UUID, users int) (map[uuid.UUID]HeldPresence, error) {
	return s.heldPresences(ctx, users, ``, tenantID)
}

// heldPresences reads what we hold for the users of the tenant (args[0])
// that the condition and picks (on the args after it): about n of them.
func (s *Store) heldPresences(ctx context.Context, n int, and string, args ...any) (map[uuid.UUID]HeldPresence, error) {
	rows, err := s.db.Query(ctx, `SELECT user_object_id, availability, activity, graph_sequence, `+richColumns+` FROM presence
		WHERE tenant_id = $1 `+and, args...)
	if err != nil {
		return nil, wrap("held presences", err)
	}
	defer rows.Close()
	out := make(map[uuid.UUID]HeldPresence, n)
	// One set of destinations for every row, copied into the map: made
	// for each row, they were an allocation a user of the 1,000,000 a
	// repair compares (TestLoadRepair's profile). pgx sets each rich
	// field anew for every row, nil for NULL, so no row shares another's
	// (TestTheWholeTenantsHeldPresenceIsWhatEachUsersIsAndNoOtherTenants).
	var id uuid.UUID
	var h HeldPresence
	dest := append([]any{&id, &h.Availability, &h.Activity, &h.GraphSequence}, richFields(&h.Rich)...)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, wrap("held presences", err)
		}
		out[id] = h
	}
	return out, rows.Err()
}
