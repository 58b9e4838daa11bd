package store

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"presencebridge/internal/presence"
)

// eventColumns are what a published event carries to the platform, read
// from presence_events e joined with tenants t and directory_users u
// (eventJoins); scan them with eventFields. Webhooks and the event stream
// read the same columns, so the two channels cannot drift.
const eventColumns = `e.uid, e.tenant_id, t.ms_tenant_id, coalesce(t.telephony_account_id, ''), e.user_object_id,
	coalesce(u.upn, ''), coalesce(u.external_id, ''), e.availability, e.activity, e.status_message, e.out_of_office, e.work_location,
	e.mapped_state, e.sequence, e.source, e.observed_at`

const eventJoins = `JOIN tenants t ON t.id = e.tenant_id
	LEFT JOIN directory_users u ON u.tenant_id = e.tenant_id AND u.object_id = e.user_object_id`

// eventFields are the scan destinations of eventColumns.
func eventFields(d *presence.EventData) []any {
	return append(append([]any{&d.EventID, &d.TenantID, &d.MicrosoftTenantID, &d.TelephonyAccountID, &d.User.ObjectID,
		&d.User.UPN, &d.User.TelephonyID, &d.Availability, &d.Activity}, richFields(&d.Rich)...), &d.State, &d.Sequence, &d.Source, &d.ObservedAt)
}

// StreamedEvent is a published event at its place in the tenant's stream.
type StreamedEvent struct {
	Position int64 // the SSE id: resume after it
	Data     presence.EventData
}

// EventsAfter lists a tenant's published events after a stream position,
// in stream order.
func (s *Store) EventsAfter(ctx context.Context, tenantID uuid.UUID, after int64, limit int) ([]StreamedEvent, error) {
	rows, err := s.db.Query(ctx, `SELECT e.position, `+eventColumns+` FROM presence_events e `+eventJoins+`
		WHERE e.tenant_id = $1 AND e.position > $2 ORDER BY e.position LIMIT $3`, tenantID, after, limit)
	if err != nil {
		return nil, wrap("events after", err)
	}
	v, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StreamedEvent, error) {
		var e StreamedEvent
		return e, r.Scan(append([]any{&e.Position}, eventFields(&e.Data)...)...)
	})
	return v, wrap("events after", err)
}

// StreamPosition is the position of a tenant's newest published event (0:
// none yet).
func (s *Store) StreamPosition(ctx context.Context, tenantID uuid.UUID) (int64, error) {
	var pos int64
	err := s.db.QueryRow(ctx, `SELECT coalesce((SELECT position FROM event_streams WHERE tenant_id = $1), 0)`, tenantID).Scan(&pos)
	return pos, wrap("stream position", err)
}
