package deliver

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"presencebridge/internal/presence"
)

// eventJSON is json.Marshal(e), byte for byte, written field by field:
// every webhook's body. encoding/json's reflection over the event took
// 0.40 s of serve's 4.90 s CPU profile during a repair of 100,000 users
// (PB_LOAD_REPAIR_PROFILE, issue 16) — nearly half of it getting an
// encoder state, and the stack of each send's new goroutine grown for its
// recursion. The rich presence is written field by field too (it went
// through encoding/json: 1.19–1.83 µs and 7 allocations an event with a
// status message, out of office and a work location, now 0.84–1.25 µs
// and 4; BenchmarkEventJSON/rich). Strings that need escaping go through
// encoding/json itself, so the bytes stay its own
// (TestEventJSONIsWhatEncodingJSONWrites holds them to it, and
// TestEventJSONWritesEveryFieldOfTheEvent fails on a field added and not
// written here); so does an event encoding/json would refuse (a timestamp
// past year 9999).
func eventJSON(e presence.Event) ([]byte, error) {
	b := make([]byte, 0, 640)
	b = append(b, `{"type":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"timestamp":`...)
	b, ok := appendTime(b, e.Timestamp)
	d := e.Data
	b = append(b, `,"data":{"eventId":`...)
	b = appendUUID(b, d.EventID)
	b = append(b, `,"tenantId":`...)
	b = appendUUID(b, d.TenantID)
	b = append(b, `,"microsoftTenantId":`...)
	if d.MicrosoftTenantID == nil {
		b = append(b, "null"...)
	} else {
		b = appendUUID(b, *d.MicrosoftTenantID)
	}
	b = appendOptional(b, `,"telephonyAccountId":`, d.TelephonyAccountID)
	b = append(b, `,"user":{"objectId":`...)
	b = appendUUID(b, d.User.ObjectID)
	b = appendOptional(b, `,"upn":`, d.User.UPN)
	b = appendOptional(b, `,"telephonyId":`, d.User.TelephonyID)
	b = append(b, `},"availability":`...)
	b = appendString(b, d.Availability)
	b = append(b, `,"activity":`...)
	b = appendString(b, d.Activity)
	okRich := true
	if d.StatusMessage != nil {
		b = append(b, `,"statusMessage":`...)
		b, okRich = appendStatusMessage(b, d.StatusMessage)
	}
	if d.OutOfOffice != nil {
		b = append(b, `,"outOfOffice":{"isOutOfOffice":`...)
		b = strconv.AppendBool(b, d.OutOfOffice.IsOutOfOffice)
		b = appendOptional(b, `,"message":`, d.OutOfOffice.Message)
		b = append(b, '}')
	}
	if d.WorkLocation != nil {
		b = append(b, `,"workLocation":{"workLocationType":`...)
		b = appendString(b, d.WorkLocation.WorkLocationType)
		b = appendOptional(b, `,"source":`, d.WorkLocation.Source)
		b = appendOptional(b, `,"placeId":`, d.WorkLocation.PlaceID)
		b = append(b, '}')
	}
	b = append(b, `,"state":`...)
	b = appendString(b, d.State)
	b = append(b, `,"sequence":`...)
	b = strconv.AppendInt(b, d.Sequence, 10)
	b = append(b, `,"source":`...)
	b = appendString(b, d.Source)
	b = append(b, `,"observedAt":`...)
	b, okObserved := appendTime(b, d.ObservedAt)
	if d.Supersedes != nil {
		b = append(b, `,"supersedes":{"fromSequence":`...)
		b = strconv.AppendInt(b, d.Supersedes.FromSequence, 10)
		b = append(b, `,"toSequence":`...)
		b = strconv.AppendInt(b, d.Supersedes.ToSequence, 10)
		b = append(b, '}')
	}
	if !ok || !okObserved || !okRich {
		return json.Marshal(e) // its bytes, or its error
	}
	return append(b, "}}"...), nil
}

// appendString appends s as encoding/json writes a string: one that needs
// no escape (printable ASCII but <, >, &, " and \) is copied between
// quotes; any other is left to encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendUUID appends id as uuid.UUID's MarshalText gives it, quoted.
func appendUUID(b []byte, id uuid.UUID) []byte {
	t, _ := id.MarshalText() // never fails
	b = append(b, '"')
	b = append(b, t...)
	return append(b, '"')
}

// appendTime appends t as time.Time's MarshalJSON does; ok is false for
// a time it refuses.
func appendTime(b []byte, t time.Time) ([]byte, bool) {
	j, err := t.MarshalJSON()
	if err != nil {
		return b, false
	}
	return append(b, j...), true
}

// appendOptional appends name and s, a string field with omitempty,
// unless s is empty.
func appendOptional(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, name...), s)
}

// appendStatusMessage appends m as encoding/json writes it; ok is false
// for a publish time it refuses.
func appendStatusMessage(b []byte, m *presence.StatusMessage) (_ []byte, ok bool) {
	b = append(b, `{"message":`...)
	b = appendString(b, m.Message)
	if x := m.ExpiryDateTime; x != nil {
		b = append(b, `,"expiryDateTime":{"dateTime":`...)
		b = appendString(b, x.DateTime)
		b = append(b, `,"timeZone":`...)
		b = appendString(b, x.TimeZone)
		b = append(b, '}')
	}
	ok = true
	if m.PublishedDateTime != nil {
		b = append(b, `,"publishedDateTime":`...)
		b, ok = appendTime(b, *m.PublishedDateTime)
	}
	return append(b, '}'), ok
}
