package deliver

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/presence"
)

// TestEventJSONIsWhatEncodingJSONWrites: a webhook's body is signed as
// sent, and the receiver reads the event the stream sends too; the
// hand-written encoding must be encoding/json's, byte for byte, for every
// shape of event — optional fields absent and present, strings that need
// escaping (HTML characters, quotes, controls, U+2028, invalid UTF-8),
// times with and without fractions, the rich presence.
func TestEventJSONIsWhatEncodingJSONWrites(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	texts := []string{"", "Busy", "InACall", "ann@contoso.example", "a<b>&c", `quote " and \ back`, "tab\tnew\nline\x01",
		"line\u2028sep\u2029", "bad \xff utf-8", "Zoë — café", "+1 (555) 010-0000"}
	text := func() string { return texts[rnd.IntN(len(texts))] }
	at := func() time.Time {
		t := time.Unix(1_700_000_000+rnd.Int64N(100_000_000), 0)
		if rnd.IntN(2) == 0 {
			t = t.Add(time.Duration(rnd.Int64N(int64(time.Second))))
		}
		if rnd.IntN(3) == 0 {
			t = t.In(time.FixedZone("x", 3600*rnd.IntN(12)))
		}
		return t
	}
	for i := range 2000 {
		d := presence.EventData{EventID: uuid.New(), TenantID: uuid.New(), TelephonyAccountID: text(),
			User:         presence.EventUser{ObjectID: uuid.New(), UPN: text(), TelephonyID: text()},
			Availability: text(), Activity: text(), State: text(), Sequence: rnd.Int64N(1 << 40), Source: text(), ObservedAt: at()}
		if rnd.IntN(2) == 0 {
			id := uuid.New()
			d.MicrosoftTenantID = &id
		}
		if rnd.IntN(3) == 0 {
			d.StatusMessage = &presence.StatusMessage{Message: text()}
			if rnd.IntN(2) == 0 {
				d.StatusMessage.ExpiryDateTime = &graphapi.DateTimeTimeZone{DateTime: "2026-12-02T10:00:00", TimeZone: text()}
			}
			if rnd.IntN(2) == 0 {
				p := at()
				d.StatusMessage.PublishedDateTime = &p
			}
		}
		if rnd.IntN(3) == 0 {
			d.OutOfOffice = &presence.OutOfOffice{IsOutOfOffice: rnd.IntN(2) == 0, Message: text()}
		}
		if rnd.IntN(3) == 0 {
			d.WorkLocation = &presence.WorkLocation{WorkLocationType: text(), Source: text(), PlaceID: text()}
		}
		if rnd.IntN(4) == 0 {
			d.Supersedes = &presence.Superseded{FromSequence: rnd.Int64N(100), ToSequence: rnd.Int64N(100)}
		}
		e := presence.NewEvent(d)
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := eventJSON(e)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("event %d:\n got %s (%v)\nwant %s", i, got, err, want)
		}
	}
}

func TestAnEventEncodingJSONRefusesIsRefused(t *testing.T) {
	e := presence.NewEvent(presence.EventData{ObservedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
	if _, err := eventJSON(e); err == nil {
		t.Error("an event of year 10000 encoded; encoding/json refuses it")
	}
}

// BenchmarkEventJSON: one webhook's body, as encoding/json writes it
// and as eventJSON does; plain, and with the user's rich presence (a
// status message, out of office, a work location).
func BenchmarkEventJSON(b *testing.B) {
	tenant := uuid.New()
	plain := presence.EventData{EventID: uuid.New(), TenantID: uuid.New(), MicrosoftTenantID: &tenant,
		TelephonyAccountID: "load-17", User: presence.EventUser{ObjectID: uuid.New(), UPN: "ann.smith@contoso-17.example", TelephonyID: "ext-17-4"},
		Availability: "Busy", Activity: "InAMeeting", State: "busy", Sequence: 42, Source: "repair", ObservedAt: time.Now()}
	rich := plain
	rich.StatusMessage = &presence.StatusMessage{Message: "Back at 3, call my mobile"}
	rich.OutOfOffice = &presence.OutOfOffice{IsOutOfOffice: false}
	rich.WorkLocation = &presence.WorkLocation{WorkLocationType: "office", Source: "scheduled"}
	for _, ev := range []struct {
		name string
		data presence.EventData
	}{{"plain", plain}, {"rich", rich}} {
		e := presence.NewEvent(ev.data)
		b.Run(ev.name+"/encoding/json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				json.Marshal(e)
			}
		})
		b.Run(ev.name+"/eventJSON", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				eventJSON(e)
			}
		})
	}
}
