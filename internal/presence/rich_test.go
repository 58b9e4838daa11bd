package presence

import (
	"testing"
	"time"

	"presencebridge/internal/graph/graphapi"
)

func ptr[T any](v T) *T { return &v }

func TestRichOfKeepsWhatGraphSaidAndReadsNoneAsAbsent(t *testing.T) {
	published := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		in   graphapi.RichPresence
		want Rich
	}{
		{"nothing sent is nothing known", graphapi.RichPresence{}, Rich{}},
		{"a status message is its text, times when shown", graphapi.RichPresence{StatusMessage: &graphapi.StatusMessage{
			Message:           graphapi.ItemBody{Content: "Back at two", ContentType: "text"},
			ExpiryDateTime:    &graphapi.DateTimeTimeZone{DateTime: "2026-03-01T14:00:00", TimeZone: "UTC"},
			PublishedDateTime: &graphapi.Time{Time: published}}},
			Rich{StatusMessage: &StatusMessage{Message: "Back at two",
				ExpiryDateTime: &graphapi.DateTimeTimeZone{DateTime: "2026-03-01T14:00:00", TimeZone: "UTC"}, PublishedDateTime: &published}}},
		{"a status message without text is none", graphapi.RichPresence{StatusMessage: &graphapi.StatusMessage{}}, Rich{}},
		{"in the office is known", graphapi.RichPresence{OutOfOfficeSettings: &graphapi.OutOfOfficeSettings{}},
			Rich{OutOfOffice: &OutOfOffice{}}},
		{"out of office with a reply", graphapi.RichPresence{OutOfOfficeSettings: &graphapi.OutOfOfficeSettings{IsOutOfOffice: true, Message: ptr("Back Monday")}},
			Rich{OutOfOffice: &OutOfOffice{IsOutOfOffice: true, Message: "Back Monday"}}},
		{"an unspecified work location is none", graphapi.RichPresence{WorkLocation: &graphapi.WorkLocation{WorkLocationType: "unspecified", Source: "none"}},
			Rich{}},
		{"a work location with its layer and place", graphapi.RichPresence{WorkLocation: &graphapi.WorkLocation{WorkLocationType: "office", Source: "scheduled", PlaceID: ptr("b-40")}},
			Rich{WorkLocation: &WorkLocation{WorkLocationType: "office", Source: "scheduled", PlaceID: "b-40"}}},
	} {
		if got := RichOf(c.in); !got.Same(c.want) || (got.OutOfOffice == nil) != (c.want.OutOfOffice == nil) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestRichIsTheSameOnlyWhenNothingWorthPublishingChanged(t *testing.T) {
	msg := func(s string) Rich { return Rich{StatusMessage: &StatusMessage{Message: s}} }
	oof := func(on bool, reply string) Rich {
		return Rich{OutOfOffice: &OutOfOffice{IsOutOfOffice: on, Message: reply}}
	}
	at := func(kind string) Rich {
		return Rich{WorkLocation: &WorkLocation{WorkLocationType: kind, Source: "manual"}}
	}
	for _, c := range []struct {
		name string
		a, b Rich
		same bool
	}{
		{"nothing and nothing", Rich{}, Rich{}, true},
		{"the same message", msg("Lunch"), msg("Lunch"), true},
		{"a new message", msg("Lunch"), msg("In a workshop"), false},
		{"a message cleared", msg("Lunch"), Rich{}, false},
		{"in the office, first known", Rich{}, oof(false, ""), true},
		{"out of office, first known", Rich{}, oof(true, ""), false},
		{"back in the office", oof(true, "Back Monday"), oof(false, ""), false},
		{"a new automatic reply", oof(true, "Back Monday"), oof(true, "Back Tuesday"), false},
		{"the same work location", at("remote"), at("remote"), true},
		{"a new work location", at("remote"), at("office"), false},
		{"a work location gone", at("remote"), Rich{}, false},
	} {
		if got := c.a.Same(c.b); got != c.same {
			t.Errorf("%s: Same = %v", c.name, got)
		}
		if got := c.b.Same(c.a); got != c.same {
			t.Errorf("%s, the other way: Same = %v", c.name, got)
		}
	}
}
