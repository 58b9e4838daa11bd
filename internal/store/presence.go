package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"presencebridge/internal/presence"
)

// PresenceChange is one observed presence of a user.
type PresenceChange struct {
	TenantID      uuid.UUID
	UserID        uuid.UUID
	Availability  string
	Activity      string
	GraphSequence string // Graph's sequenceNumber, lexicographically ordered; "" if unknown
	MappedState   string
	Source        string // notification, repair or api
	ObservedAt    time.Time
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

// Outcomes of ApplyPresence.
const (
	PresenceApplied   = "applied"
	PresenceStale     = "stale"     // older than what is stored (a reordering)
	PresenceUnchanged = "unchanged" // same state again (a retry, or a repair that agrees)
)

// NotifyPresence wakes stream readers and deliverers of tenants at commit
// (NOTIFY is transactional). Call it once per tenant after ApplyPresence.
func (s *Store) NotifyPresence(ctx context.Context, tx pgx.Tx, tenants ...uuid.UUID) error {
	for _, t := range tenants {
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, PresenceNotifyChannel, t.String()); err != nil {
			return err
		}
	}
	return nil
}

// ApplyPresence records a change in tx under the user's row lock: a change
// older than the stored one (by Graph's sequenceNumber) is dropped, the
// same state again records nothing, anything else updates the presence
// row, stamps the next per-user sequence, appends a presence_event and
// queues one delivery per enabled endpoint of the tenant.
func (s *Store) ApplyPresence(ctx context.Context, tx pgx.Tx, c PresenceChange) (string, PresenceEvent, error) {
	var ev PresenceEvent
	var avail, act, gseq, mapped string
	var seq int64
	var echo bool
	// One round trip in the common case: the user's row (locked) and
	// whether an echo of this state is expected.
	const echoQuery = `EXISTS (SELECT 1 FROM presence_echo x WHERE x.tenant_id = $1 AND x.user_object_id = $2
		AND lower(x.availability) = lower($3) AND lower(x.activity) = lower($4) AND x.expires_at > now())`
	err := tx.QueryRow(ctx, `SELECT availability, activity, sequence, graph_sequence, mapped_state, `+echoQuery+`
		FROM presence WHERE tenant_id = $1 AND user_object_id = $2 FOR UPDATE`,
		c.TenantID, c.UserID, c.Availability, c.Activity).Scan(&avail, &act, &seq, &gseq, &mapped, &echo)
	exists := err == nil
	if errors.Is(err, pgx.ErrNoRows) { // a user seen for the first time
		err = tx.QueryRow(ctx, `SELECT `+echoQuery, c.TenantID, c.UserID, c.Availability, c.Activity).Scan(&echo)
	}
	if err != nil {
		return "", ev, err
	}
	if exists && c.GraphSequence != "" && gseq != "" && c.GraphSequence < gseq {
		return PresenceStale, ev, nil
	}
	if exists && avail == c.Availability && act == c.Activity {
		if c.GraphSequence > gseq {
			_, err = tx.Exec(ctx, `UPDATE presence SET graph_sequence = $3, updated_at = now() WHERE tenant_id = $1 AND user_object_id = $2`,
				c.TenantID, c.UserID, c.GraphSequence)
		}
		return PresenceUnchanged, ev, err
	}
	ev.Sequence = seq + 1
	// A state we set in Teams for the platform comes back as a change:
	// keep it, but do not send it back (echo suppression); the echo is
	// used up.
	if echo {
		c.Source = "echo"
		_, err = tx.Exec(ctx, `DELETE FROM presence_echo WHERE tenant_id = $1 AND user_object_id = $2
			AND lower(availability) = lower($3) AND lower(activity) = lower($4)`, c.TenantID, c.UserID, c.Availability, c.Activity)
		if err != nil {
			return "", ev, err
		}
	}
	// Talking again within the debounce window: the held change that left
	// talking is dropped, and so is this one — the platform never saw the
	// user stop talking.
	resumed := false
	if !echo && c.Debounce > 0 && exists && c.MappedState == "talking" && mapped != "talking" {
		tag, err := tx.Exec(ctx, `DELETE FROM deliveries d USING presence_events e
			WHERE e.id = d.event_id AND d.tenant_id = $1 AND e.user_object_id = $2 AND d.status = 'pending'
			AND d.attempts = 0 AND d.next_attempt_at > now() AND e.sequence = $3`, c.TenantID, c.UserID, seq)
		if err != nil {
			return "", ev, err
		}
		resumed = tag.RowsAffected() > 0
	}
	// Leaving talking is held for the window.
	hold := time.Duration(0)
	if c.Debounce > 0 && exists && mapped == "talking" && c.MappedState != "talking" {
		hold = c.Debounce
	}
	// The presence row, the event and its deliveries in one round trip.
	err = tx.QueryRow(ctx, `WITH p AS (
			INSERT INTO presence (tenant_id, user_object_id, availability, activity, sequence, observed_at, graph_sequence, mapped_state)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (tenant_id, user_object_id) DO UPDATE SET availability = excluded.availability, activity = excluded.activity,
				sequence = excluded.sequence, observed_at = excluded.observed_at, graph_sequence = excluded.graph_sequence,
				mapped_state = excluded.mapped_state, updated_at = now()
			RETURNING 1
		), e AS (
			INSERT INTO presence_events (tenant_id, user_object_id, sequence, availability, activity, mapped_state, source, observed_at)
			VALUES ($1, $2, $5, $3, $4, $8, $9, $6) RETURNING id
		), d AS (
			INSERT INTO deliveries (tenant_id, endpoint_id, event_id, next_attempt_at)
			SELECT ep.tenant_id, ep.id, e.id, now() + $10::interval FROM endpoints ep, e
			WHERE ep.tenant_id = $1 AND ep.enabled AND $11
		)
		SELECT e.id FROM e, p`,
		c.TenantID, c.UserID, c.Availability, c.Activity, ev.Sequence, c.ObservedAt, c.GraphSequence, c.MappedState, c.Source,
		hold.String(), !echo && !resumed).Scan(&ev.ID)
	if err != nil {
		return "", ev, err
	}
	return PresenceApplied, ev, nil
}

// Presence is a user's stored presence.
type Presence struct {
	TenantID     uuid.UUID
	UserID       uuid.UUID
	Availability string
	Activity     string
	Sequence     int64
	MappedState  string
	ObservedAt   time.Time
}

// GetPresence reads a user's stored presence.
func (s *Store) GetPresence(ctx context.Context, q DBTX, tenantID, userID uuid.UUID) (Presence, error) {
	p := Presence{TenantID: tenantID, UserID: userID}
	err := q.QueryRow(ctx, `SELECT availability, activity, sequence, mapped_state, observed_at FROM presence
		WHERE tenant_id = $1 AND user_object_id = $2`, tenantID, userID).Scan(&p.Availability, &p.Activity, &p.Sequence, &p.MappedState, &p.ObservedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, pgx.ErrNoRows
	}
	return p, err
}

// QueueResync asks for a user's presence to be re-read.
func (s *Store) QueueResync(ctx context.Context, q DBTX, tenantID, userID uuid.UUID, reason string) error {
	_, err := q.Exec(ctx, `INSERT INTO presence_resync (tenant_id, user_object_id, reason) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id, user_object_id) DO NOTHING`, tenantID, userID, reason)
	return err
}

// MappingRules reads a tenant's mapping rules as stored (nil: defaults).
func (s *Store) MappingRules(ctx context.Context, q DBTX, tenantID uuid.UUID) (json.RawMessage, error) {
	var b json.RawMessage
	err := q.QueryRow(ctx, `SELECT rules FROM mapping_rules WHERE tenant_id = $1`, tenantID).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return b, err
}

// RecordSubscriptionEvent hands a lifecycle notification to the engine.
func (s *Store) RecordSubscriptionEvent(ctx context.Context, q DBTX, subscriptionID uuid.UUID, event string) error {
	_, err := q.Exec(ctx, `INSERT INTO subscription_events (subscription_id, event) VALUES ($1, $2)`, subscriptionID, event)
	return err
}

// TouchSubscription stamps a subscription's last notification.
func (s *Store) TouchSubscription(ctx context.Context, q DBTX, id uuid.UUID, at time.Time) error {
	_, err := q.Exec(ctx, `UPDATE subscriptions SET last_notification_at = greatest(coalesce(last_notification_at, $2), $2) WHERE id = $1`, id, at)
	return err
}

// PresenceNotifyChannel is the LISTEN/NOTIFY channel ApplyPresence
// signals on; the payload is the tenant id.
const PresenceNotifyChannel = "pb_presence"

// InboxNotifyChannel is signalled when notifications reach the inbox.
const InboxNotifyChannel = "pb_inbox"

// StoredEvent is a presence_event with what the stream sends.
type StoredEvent struct {
	ID           int64
	UserID       uuid.UUID
	UPN          string
	ExternalID   string
	Sequence     int64
	Availability string
	Activity     string
	MappedState  string
	ObservedAt   time.Time
}

// EventsAfter lists a tenant's events after id, oldest first.
func (s *Store) EventsAfter(ctx context.Context, q DBTX, tenantID uuid.UUID, after int64, limit int) ([]StoredEvent, error) {
	rows, err := q.Query(ctx, `SELECT e.id, e.user_object_id, coalesce(u.upn, ''), coalesce(u.external_id, ''), e.sequence,
		e.availability, e.activity, e.mapped_state, e.observed_at
		FROM presence_events e LEFT JOIN directory_users u ON u.tenant_id = e.tenant_id AND u.object_id = e.user_object_id
		WHERE e.tenant_id = $1 AND e.id > $2 AND e.source <> 'echo' ORDER BY e.id LIMIT $3`, tenantID, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (StoredEvent, error) {
		var e StoredEvent
		return e, r.Scan(&e.ID, &e.UserID, &e.UPN, &e.ExternalID, &e.Sequence, &e.Availability, &e.Activity, &e.MappedState, &e.ObservedAt)
	})
}

// RecordEcho notes a presence Presence Bridge is about to set in Teams for
// the platform, so the resulting change is not sent back (for ttl).
func (s *Store) RecordEcho(ctx context.Context, q DBTX, tenantID, userID uuid.UUID, availability, activity string, ttl time.Duration) error {
	_, err := q.Exec(ctx, `INSERT INTO presence_echo (tenant_id, user_object_id, availability, activity, expires_at)
		VALUES ($1, $2, $3, $4, now() + $5::interval)
		ON CONFLICT (tenant_id, user_object_id, availability, activity) DO UPDATE SET expires_at = excluded.expires_at`,
		tenantID, userID, availability, activity, ttl.String())
	return err
}

// PutMappingRules stores a tenant's mapping rules (JSON, already validated).
func (s *Store) PutMappingRules(ctx context.Context, q DBTX, tenantID uuid.UUID, rules json.RawMessage) error {
	_, err := q.Exec(ctx, `INSERT INTO mapping_rules (tenant_id, rules) VALUES ($1, $2)
		ON CONFLICT (tenant_id) DO UPDATE SET rules = excluded.rules, updated_at = now()`, tenantID, rules)
	return err
}

// TenantRules is a tenant's mapping rules: what it saved, over the
// defaults (a tenant that never saved any gets the defaults).
func (s *Store) TenantRules(ctx context.Context, q DBTX, tenantID uuid.UUID) (presence.Rules, error) {
	r := presence.DefaultRules()
	raw, err := s.MappingRules(ctx, q, tenantID)
	if err != nil || raw == nil {
		return r, err
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("tenant %s mapping rules: %w", tenantID, err)
	}
	return r, nil
}
