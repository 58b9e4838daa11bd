package graphapi

import (
	"encoding/json"
	"fmt"
	"time"
)

// RichPresence is what Graph's presence resource says beside availability
// and activity: the status message, the out-of-office settings and the
// work location (docs/graph.md#presence), spelt as Graph writes them, so a
// decrypted notification decodes into it as a read does. Each is nil when
// Graph did not send it.
//
// https://learn.microsoft.com/en-us/graph/api/resources/presence
type RichPresence struct {
	StatusMessage       *StatusMessage       `json:"statusMessage"`
	OutOfOfficeSettings *OutOfOfficeSettings `json:"outOfOfficeSettings"`
	WorkLocation        *WorkLocation        `json:"workLocation"`
}

// StatusMessage is presenceStatusMessage. The expiry and publish time are
// shown to the user themself only: reading anyone else, they are nil.
//
// https://learn.microsoft.com/en-us/graph/api/resources/presencestatusmessage
type StatusMessage struct {
	Message           ItemBody          `json:"message"`
	ExpiryDateTime    *DateTimeTimeZone `json:"expiryDateTime"`
	PublishedDateTime *Time             `json:"publishedDateTime"`
}

// ItemBody is itemBody; a status message's is always text.
type ItemBody struct {
	Content     string `json:"content"`
	ContentType string `json:"contentType"`
}

// DateTimeTimeZone is dateTimeTimeZone: a wall-clock time without offset
// and the name of its zone (a Windows or an IANA name), kept as sent.
type DateTimeTimeZone struct {
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

// OutOfOfficeSettings is outOfOfficeSettings: whether the user is inside
// their out-of-office window (or an event shown as out of office), and
// the automatic reply they wrote.
//
// https://learn.microsoft.com/en-us/graph/api/resources/outofofficesettings
type OutOfOfficeSettings struct {
	Message       *string `json:"message"`
	IsOutOfOffice bool    `json:"isOutOfOffice"`
}

// WorkLocation is userWorkLocation: workLocationType unspecified, office,
// remote or timeOff; source none, manual, scheduled or automatic (the
// layer that won); placeId when there is one. Microsoft may add values
// (unknownFutureValue), kept as they come.
//
// https://learn.microsoft.com/en-us/graph/api/resources/userworklocation
type WorkLocation struct {
	WorkLocationType string  `json:"workLocationType"`
	Source           string  `json:"source"`
	PlaceID          *string `json:"placeId"`
}

// Time parses Graph's date-times leniently: with or without a zone (a
// missing zone is UTC) and with up to 7 fractional digits
// (docs/graph.md#notification-payload). It holds the time in UTC, whose
// year must be 0000–9999 as Graph's four digits write it: one read from
// 0000-01-01 at +01:00 (the year -1 in UTC) or 9999-12-31 at -02:00
// (10000) is refused, and one outside them is not written, as
// time.Time's own MarshalJSON does — else Time wrote "-0001-…" or
// "10000-…", which neither Graph nor Time reads.
type Time struct{ time.Time }

// ParseTime reads one of Graph's date-times as Time does.
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999", "2006-01-02T15:04:05"} {
		if v, err := time.Parse(layout, s); err == nil {
			if v = v.UTC(); !fourDigitYear(v) {
				return time.Time{}, fmt.Errorf("graphapi: %q is outside the years 0000–9999 in UTC", s)
			}
			return v, nil
		}
	}
	return time.Time{}, fmt.Errorf("graphapi: %q is not a date-time", s)
}

// fourDigitYear says whether t's year in UTC is 0000–9999.
func fourDigitYear(t time.Time) bool { y := t.UTC().Year(); return y >= 0 && y <= 9999 }

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	v, err := ParseTime(s)
	t.Time = v
	return err
}

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	if !fourDigitYear(t.Time) {
		return nil, fmt.Errorf("graphapi: %s is outside the years 0000–9999 in UTC, which a date-time of Graph's holds", t.UTC().Format(time.RFC3339))
	}
	return json.Marshal(t.UTC().Format("2006-01-02T15:04:05.0000000Z"))
}
