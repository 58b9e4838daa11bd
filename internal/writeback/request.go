package writeback

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Request is one write, as data: what the API asks and what a job carries
// out later when Graph throttled it (the same call either way, through Do).
type Request struct {
	Kind         string        `json:"kind"` // one of the Kind constants
	Availability string        `json:"availability,omitempty"`
	Activity     string        `json:"activity,omitempty"`
	Expires      time.Duration `json:"expires,omitempty"`     // a session's or preferred presence's
	Message      string        `json:"message,omitempty"`     // a status message; "" clears it
	MessageUntil time.Time     `json:"messageUntil,omitzero"` // when the status message ends; zero: never
}

// Request kinds.
const (
	KindSetPresence    = "set_presence"
	KindClearPresence  = "clear_presence"
	KindSetPreferred   = "set_preferred"
	KindClearPreferred = "clear_preferred"
	KindStatusMessage  = "status_message"
)

// Do carries out r for the user.
func (w *Writer) Do(ctx context.Context, tenantID, userObjectID uuid.UUID, r Request) (Result, error) {
	set := SetRequest{Availability: r.Availability, Activity: r.Activity, Expires: r.Expires}
	switch r.Kind {
	case KindSetPresence:
		return w.SetPresence(ctx, tenantID, userObjectID, set)
	case KindClearPresence:
		return w.ClearPresence(ctx, tenantID, userObjectID)
	case KindSetPreferred:
		return w.SetPreferred(ctx, tenantID, userObjectID, set)
	case KindClearPreferred:
		return w.ClearPreferred(ctx, tenantID, userObjectID)
	case KindStatusMessage:
		return w.SetStatusMessage(ctx, tenantID, userObjectID, StatusRequest{Message: r.Message, Expires: r.MessageUntil})
	default:
		return Result{}, fmt.Errorf("writeback: unknown request kind %q", r.Kind)
	}
}
