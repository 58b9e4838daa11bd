package intake

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/uuid"

	"presencebridge/internal/notification"
	"presencebridge/internal/presence"
)

// TestTheProcessorCarriesTheRichPresenceOfANotification: the status
// message, out-of-office settings and work location of the encrypted
// resource are stored, mapped by the tenant's rules and published; the
// same resource again is unchanged, a new work location alone is
// published.
func TestTheProcessorCarriesTheRichPresenceOfANotification(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rules := presence.DefaultRules()
	rules.OutOfOffice = presence.Away
	raw, _ := json.Marshal(rules)
	if err := f.st.PutMappingRules(ctx, f.tenant, raw); err != nil {
		t.Fatal(err)
	}
	p := NewProcessor(f.st, ProcessorOptions{Keys: notification.NewKeys(f.key), Tokens: tokens{}})
	user := uuid.New()
	resource := func(seq, location string) map[string]any {
		return map[string]any{"availability": "Available", "activity": "OutOfOffice", "sequenceNumber": seq,
			"statusMessage":       map[string]any{"message": map[string]any{"content": "Parental leave", "contentType": "text"}},
			"outOfOfficeSettings": map[string]any{"message": "Back in June", "isOutOfOffice": true},
			"workLocation":        map[string]any{"workLocationType": location, "source": "scheduled", "placeId": nil}}
	}
	f.inbox(t, "change", f.richWith(t, f.key, user, resource("01", "timeOff")), f.richWith(t, f.key, user, resource("02", "timeOff")),
		f.richWith(t, f.key, user, resource("03", "remote")))
	st, err := p.Drain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Applied != 2 || st.Unchanged != 1 {
		t.Errorf("stats %+v, want 2 applied (first seen, a new work location) and 1 unchanged", st)
	}
	stored, err := f.st.GetPresence(ctx, f.tenant, user)
	if err != nil {
		t.Fatal(err)
	}
	r := stored.Rich
	if stored.MappedState != "away" || r.StatusMessage == nil || r.StatusMessage.Message != "Parental leave" ||
		r.OutOfOffice == nil || *r.OutOfOffice != (presence.OutOfOffice{IsOutOfOffice: true, Message: "Back in June"}) ||
		r.WorkLocation == nil || *r.WorkLocation != (presence.WorkLocation{WorkLocationType: "remote", Source: "scheduled"}) {
		t.Errorf("stored %s with %+v %+v %+v", stored.MappedState, r.StatusMessage, r.OutOfOffice, r.WorkLocation)
	}
	evs, err := f.st.EventsAfter(ctx, f.tenant, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Data.WorkLocation == nil || evs[0].Data.WorkLocation.WorkLocationType != "timeOff" ||
		!evs[1].Data.OutOfOfficeNow() || evs[1].Data.State != "away" {
		t.Errorf("events: %+v", evs)
	}
}
