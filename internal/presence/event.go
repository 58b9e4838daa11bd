package presence

import (
	"time"

	"github.com/google/uuid"
)

// Event is what the telephony platform receives for one change, by
// webhook or on the event stream: the same event, built by NewEvent, on
// both channels.
type Event struct {
	Type string `json:"type"` // presence.changed
	// Timestamp is when the change was observed (not when it was sent: a
	// retry or a replay carries the same timestamp).
	Timestamp time.Time `json:"timestamp"`
	Data      EventData `json:"data"`
}

// EventData is a presence change as the platform receives it: the raw
// Teams values (availability, activity and the rich presence —
// statusMessage, outOfOffice, workLocation, each omitted when unknown),
// the mapped state and the per-user sequence (to order and deduplicate on
// the platform's side).
type EventData struct {
	// EventID identifies the event everywhere: the webhook-id of its
	// deliveries, and the same value on the event stream. A UUIDv7, unique
	// across deployments and databases.
	EventID            uuid.UUID  `json:"eventId"`
	TenantID           uuid.UUID  `json:"tenantId"`
	MicrosoftTenantID  *uuid.UUID `json:"microsoftTenantId"`
	TelephonyAccountID string     `json:"telephonyAccountId,omitempty"`
	User               EventUser  `json:"user"`
	Availability       string     `json:"availability"`
	Activity           string     `json:"activity"`
	Rich
	State string `json:"state"`
	// Sequence counts the user's published events, 1, 2, 3…: a gap is a
	// loss, unless Supersedes names it.
	Sequence int64 `json:"sequence"`
	// Source says how the change was seen: notification (Graph pushed it),
	// repair (a re-read found it changed), sync (a sync asked for through
	// the API re-read it, and sends the current state whether or not it
	// changed) or api.
	Source     string    `json:"source"`
	ObservedAt time.Time `json:"observedAt"`
	// Supersedes is set on a webhook that replaces older events of the same
	// user this endpoint did not receive (it was failing): the latest state
	// wins, and those sequences were skipped on purpose.
	Supersedes *Superseded `json:"supersedes,omitempty"`
}

// Superseded is a range of a user's sequences that an event replaced.
type Superseded struct {
	FromSequence int64 `json:"fromSequence"`
	ToSequence   int64 `json:"toSequence"`
}

// EventUser names the user three ways.
type EventUser struct {
	ObjectID    uuid.UUID `json:"objectId"`
	UPN         string    `json:"upn,omitempty"`
	TelephonyID string    `json:"telephonyId,omitempty"`
}

// EventType is the type of every presence event.
const EventType = "presence.changed"

// NewEvent is the one way an event is built for either channel.
func NewEvent(d EventData) Event {
	d.ObservedAt = d.ObservedAt.UTC()
	return Event{Type: EventType, Timestamp: d.ObservedAt, Data: d}
}
