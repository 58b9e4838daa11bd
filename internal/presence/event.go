package presence

import (
	"time"

	"github.com/google/uuid"
)

// Event is what the telephony platform receives for one change, by
// webhook or on the event stream.
type Event struct {
	Type      string    `json:"type"` // presence.changed
	Timestamp time.Time `json:"timestamp"`
	Data      EventData `json:"data"`
}

// EventData is a presence change as the platform receives it: the raw
// Teams values, the mapped state and the per-user sequence (to order and
// deduplicate on the platform's side).
type EventData struct {
	TenantID           uuid.UUID  `json:"tenantId"`
	MicrosoftTenantID  *uuid.UUID `json:"microsoftTenantId"`
	TelephonyAccountID string     `json:"telephonyAccountId,omitempty"`
	User               EventUser  `json:"user"`
	Availability       string     `json:"availability"`
	Activity           string     `json:"activity"`
	State              string     `json:"state"`
	Sequence           int64      `json:"sequence"`
	ObservedAt         time.Time  `json:"observedAt"`
}

// EventUser names the user three ways.
type EventUser struct {
	ObjectID    uuid.UUID `json:"objectId"`
	UPN         string    `json:"upn,omitempty"`
	TelephonyID string    `json:"telephonyId,omitempty"`
}

// EventType is the type of every presence event.
const EventType = "presence.changed"
