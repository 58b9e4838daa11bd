package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// A user's history as the store keeps it: the presence events recorded for
// the user (what Graph said, what the mapping made of it, where it came
// from) and each event's deliveries to the tenant's endpoints with their
// last response. The raw notification is not among them: an inbox row is
// deleted once processed (CompleteInboxBatch); events and their
// deliveries go after the retention period (DeleteOldPresenceEvents).

// TimelineEvent is one of a user's presence events.
type TimelineEvent struct {
	ID           int64
	UID          uuid.UUID // the event id the platform sees
	Sequence     int64     // 0: not published (suppressed, or held)
	Availability string
	Activity     string
	MappedState  string
	Source       string // notification, repair, sync, api, echo
	// Suppressed says why the event was not sent: echo (our own
	// write-back coming back), debounce (a flap the debounce swallowed),
	// superseded; "" when it was (or is held to be) sent.
	Suppressed string
	ObservedAt time.Time
	CreatedAt  time.Time
	Deliveries []TimelineDelivery
}

// TimelineDelivery is one event's delivery to one endpoint.
type TimelineDelivery struct {
	EndpointID  uuid.UUID
	EndpointURL string
	Status      string // DeliveryPending, DeliveryDelivered…
	Attempts    int
	LastStatus  *int // the HTTP status of the last attempt; nil: none or no answer
	LastError   string
	CreatedAt   time.Time
	DeliveredAt *time.Time
}

// UserTimeline reads up to limit of the user's most recent presence
// events, newest first, each with its deliveries (along the
// (endpoint_id, event_id) key, through the tenant's endpoints).
func (s *Store) UserTimeline(ctx context.Context, tenantID, userID uuid.UUID, limit int) ([]TimelineEvent, error) {
	rows, err := s.db.Query(ctx, `SELECT id, uid, coalesce(sequence, 0), availability, activity, mapped_state, source,
			coalesce(suppressed, ''), observed_at, created_at
		FROM presence_events WHERE tenant_id = $1 AND user_object_id = $2 ORDER BY id DESC LIMIT $3`, tenantID, userID, limit)
	if err != nil {
		return nil, wrap("user timeline", err)
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TimelineEvent, error) {
		var e TimelineEvent
		return e, r.Scan(&e.ID, &e.UID, &e.Sequence, &e.Availability, &e.Activity, &e.MappedState, &e.Source,
			&e.Suppressed, &e.ObservedAt, &e.CreatedAt)
	})
	if err != nil || len(events) == 0 {
		return events, wrap("user timeline", err)
	}
	ids := make([]int64, len(events))
	at := make(map[int64]int, len(events))
	for i, e := range events {
		ids[i], at[e.ID] = e.ID, i
	}
	rows, err = s.db.Query(ctx, `SELECT d.event_id, en.id, en.url, d.status, d.attempts, d.last_status, coalesce(d.last_error, ''),
			d.created_at, d.delivered_at
		FROM endpoints en JOIN deliveries d ON d.endpoint_id = en.id AND d.event_id = ANY($2)
		WHERE en.tenant_id = $1 ORDER BY d.event_id, en.created_at`, tenantID, ids)
	if err != nil {
		return nil, wrap("user timeline deliveries", err)
	}
	var eventID int64
	var d TimelineDelivery
	_, err = pgx.ForEachRow(rows, []any{&eventID, &d.EndpointID, &d.EndpointURL, &d.Status, &d.Attempts, &d.LastStatus, &d.LastError,
		&d.CreatedAt, &d.DeliveredAt}, func() error {
		e := &events[at[eventID]]
		e.Deliveries = append(e.Deliveries, d)
		d = TimelineDelivery{}
		return nil
	})
	return events, wrap("user timeline deliveries", err)
}
