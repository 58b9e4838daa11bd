package presence

import (
	"strings"
	"time"

	"presencebridge/internal/graph/graphapi"
)

// Rich is what Teams says of a user beside availability and activity: the
// status message, whether they are out of office, and where they work
// (docs/graph.md#presence). It is stored with the presence and its events
// and carried in the event's data under these names, each omitted when
// unknown; the rules can map on it (Rules.Map).
type Rich struct {
	StatusMessage *StatusMessage `json:"statusMessage,omitempty"`
	OutOfOffice   *OutOfOffice   `json:"outOfOffice,omitempty"`
	WorkLocation  *WorkLocation  `json:"workLocation,omitempty"`
}

// StatusMessage is the message the user set in Teams. Graph shows its
// expiry and publish time to the user themself only, so reading anyone
// else — as we do — they are absent.
type StatusMessage struct {
	Message           string                     `json:"message"`
	ExpiryDateTime    *graphapi.DateTimeTimeZone `json:"expiryDateTime,omitempty"`
	PublishedDateTime *time.Time                 `json:"publishedDateTime,omitempty"`
}

// OutOfOffice is Graph's outOfOfficeSettings: inside the out-of-office
// window the user set in Outlook or Teams (or an event shown as out of
// office), and the automatic reply they wrote.
type OutOfOffice struct {
	IsOutOfOffice bool   `json:"isOutOfOffice"`
	Message       string `json:"message,omitempty"`
}

// WorkLocation is Graph's userWorkLocation: workLocationType office, remote
// or timeOff (or a value Microsoft adds), the layer it came from (manual,
// automatic, scheduled) and the place, when Graph names one.
type WorkLocation struct {
	WorkLocationType string `json:"workLocationType"`
	Source           string `json:"source,omitempty"`
	PlaceID          string `json:"placeId,omitempty"`
}

// RichOf is what Graph sent, as we carry it. A status message without
// text and a work location Graph calls unspecified (no layer set) are no
// status message and no work location: nil, as when Graph sent none.
func RichOf(g graphapi.RichPresence) Rich {
	var r Rich
	if sm := g.StatusMessage; sm != nil && sm.Message.Content != "" {
		r.StatusMessage = &StatusMessage{Message: sm.Message.Content, ExpiryDateTime: sm.ExpiryDateTime}
		if at := sm.PublishedDateTime; at != nil && !at.IsZero() {
			t := at.UTC()
			r.StatusMessage.PublishedDateTime = &t
		}
	}
	if oo := g.OutOfOfficeSettings; oo != nil {
		r.OutOfOffice = &OutOfOffice{IsOutOfOffice: oo.IsOutOfOffice}
		if oo.Message != nil {
			r.OutOfOffice.Message = *oo.Message
		}
	}
	if wl := g.WorkLocation; wl != nil {
		w := WorkLocation{WorkLocationType: wl.WorkLocationType, Source: wl.Source}
		if wl.PlaceID != nil {
			w.PlaceID = *wl.PlaceID
		}
		if (w.WorkLocationType != "" && !strings.EqualFold(w.WorkLocationType, "unspecified")) || w.PlaceID != "" {
			r.WorkLocation = &w
		}
	}
	return r
}

// Same reports whether r and o say the same: a change between them is
// worth publishing otherwise. Out of office unknown and "not out of
// office, no reply" are the same, so the first read after rich presence
// was introduced (rows written before know none of it) publishes nothing
// for a user who is simply in.
func (r Rich) Same(o Rich) bool {
	return sameStatus(r.StatusMessage, o.StatusMessage) && quiet(r.OutOfOffice) == quiet(o.OutOfOffice) &&
		samePtr(r.WorkLocation, o.WorkLocation)
}

// OutOfOfficeNow reports whether the user is known to be out of office.
func (r Rich) OutOfOfficeNow() bool { return r.OutOfOffice != nil && r.OutOfOffice.IsOutOfOffice }

func quiet(o *OutOfOffice) OutOfOffice {
	if o == nil {
		return OutOfOffice{}
	}
	return *o
}

func samePtr[T comparable](a, b *T) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func sameStatus(a, b *StatusMessage) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Message == b.Message && samePtr(a.ExpiryDateTime, b.ExpiryDateTime) &&
		(a.PublishedDateTime == nil) == (b.PublishedDateTime == nil) &&
		(a.PublishedDateTime == nil || a.PublishedDateTime.Equal(*b.PublishedDateTime))
}
