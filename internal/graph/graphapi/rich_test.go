package graphapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Graph writes a date-time with a four-digit year, and so does Time: a
// time whose year in UTC is outside 0000–9999 — from 0000-01-01 at +01:00
// or 9999-12-31 at -02:00, which time.Parse reads — is refused when read,
// and is an error when written, never a string Time cannot read back
// ("-0001-12-31T23:00:00.0000000Z", "10000-01-01T01:00:00.0000000Z").
func TestATimeOutsideTheYears0000To9999InUTCIsAnErrorReadOrWritten(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // "": refused
	}{
		{"0000-01-01T00:00:00Z", "0000-01-01T00:00:00.0000000Z"},
		{"0000-01-01T01:00:00+01:00", "0000-01-01T00:00:00.0000000Z"},
		{"9999-12-31T23:59:59.9999999Z", "9999-12-31T23:59:59.9999999Z"},
		{"9999-12-31T21:00:00-02:00", "9999-12-31T23:00:00.0000000Z"},
		{"2026-12-02T09:00:00.1234567", "2026-12-02T09:00:00.1234567Z"},
		{"0000-01-01T00:00:00+01:00", ""},
		{"0000-01-01T00:59:59.9999999+01:00", ""},
		{"9999-12-31T23:00:00-02:00", ""},
		{"9999-12-31T22:00:00-02:00", ""},
		{"10000-01-01T00:00:00Z", ""},
		{"-0001-12-31T23:00:00Z", ""},
	} {
		var v Time
		err := json.Unmarshal([]byte(`"`+c.in+`"`), &v)
		if c.want == "" {
			if err == nil {
				t.Errorf("%s read as %v, want an error", c.in, v.Time)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		out, err := json.Marshal(v)
		if err != nil || string(out) != `"`+c.want+`"` {
			t.Errorf("%s written as %s (%v), want %s", c.in, out, err, c.want)
		}
		var again Time
		if err := json.Unmarshal(out, &again); err != nil || !again.Equal(v.Time) {
			t.Errorf("%s: %s read back as %v (%v)", c.in, out, again.Time, err)
		}
	}
	for _, at := range []time.Time{time.Date(-1, 12, 31, 23, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("", -2*3600))} {
		if out, err := json.Marshal(Time{at}); err == nil || !strings.Contains(err.Error(), "0000–9999") {
			t.Errorf("%v written as %s (%v), want an error", at, out, err)
		}
	}
}
