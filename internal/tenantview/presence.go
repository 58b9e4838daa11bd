package tenantview

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/presence"
	"presencebridge/internal/store"
)

// A user's presence in JSON, as the tenant API's presence reads answer it
// (GET /users/{id}/presence, and each item of GET /presence) and as the
// tenant pages' "Copy presence data" copies it: one encoding, so what an
// admin copies is what the platform reads.

// UnknownPresence is Graph's word for a presence it does not know, shown
// for a user whose presence has not been seen yet.
const UnknownPresence = "PresenceUnknown"

// AppendPresenceJSON appends p as the API's userPresence is in JSON, as
// encoding/json (with HTML characters unescaped) writes it — web/api's
// TestPresenceIsWrittenAsEncodingJSONWritesIt holds the two together —
// without building the values in between: a snapshot page writes
// thousands.
func AppendPresenceJSON(b []byte, p *store.UserPresence) []byte {
	b = appendUUID(append(b, `{"userId":`...), p.ObjectID)
	b = appendString(append(b, `,"upn":`...), p.UPN)
	if p.ExternalID != "" {
		b = appendString(append(b, `,"externalId":`...), p.ExternalID)
	}
	availability, activity, state := p.Availability, p.Activity, p.MappedState
	if !p.Known {
		availability, activity, state = UnknownPresence, UnknownPresence, string(presence.Unknown)
	}
	b = appendString(append(b, `,"availability":`...), availability)
	b = appendString(append(b, `,"activity":`...), activity)
	b = appendString(append(b, `,"state":`...), state)
	b = strconv.AppendInt(append(b, `,"sequence":`...), p.Sequence, 10)
	b = appendTime(b, `,"observedAt":`, p.ObservedAt)
	b = appendTime(b, `,"heldUntil":`, p.HeldUntil)
	if p.StatusMessage != nil {
		b = appendMarshaled(append(b, `,"statusMessage":`...), p.StatusMessage)
	}
	if p.OutOfOffice != nil {
		b = appendMarshaled(append(b, `,"outOfOffice":`...), p.OutOfOffice)
	}
	if p.WorkLocation != nil {
		b = appendMarshaled(append(b, `,"workLocation":`...), p.WorkLocation)
	}
	return append(b, '}')
}

// appendUUID appends id as a JSON string in its canonical form.
func appendUUID(b []byte, id uuid.UUID) []byte {
	var s [36]byte
	hex.Encode(s[0:8], id[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], id[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], id[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], id[8:10])
	s[23] = '-'
	hex.Encode(s[24:], id[10:])
	return append(append(append(b, '"'), s[:]...), '"')
}

// appendTime appends the member name and t as time.Time's MarshalJSON
// writes it (RFC 3339 with the nanoseconds it has), or nothing for none
// (zero), as omitempty on the API's string does.
func appendTime(b []byte, name string, t time.Time) []byte {
	if t.IsZero() {
		return b
	}
	return append(t.AppendFormat(append(append(b, name...), '"'), time.RFC3339Nano), '"')
}

// appendString appends s as a JSON string: as it is when it needs no
// escaping (the case of UPNs, ids and Teams' words), else as encoding/json
// escapes it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			return appendMarshaled(b, s)
		}
	}
	return append(append(append(b, '"'), s...), '"')
}

// appendMarshaled appends v as encoding/json writes it with HTML
// characters unescaped (huma's JSON format, the API's), without the
// newline.
func appendMarshaled(b []byte, v any) []byte {
	var w bytes.Buffer
	enc := json.NewEncoder(&w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // v is one of our own plain types
	}
	return append(b, bytes.TrimSuffix(w.Bytes(), []byte("\n"))...)
}
