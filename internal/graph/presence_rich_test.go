package graph

import (
	"testing"
	"time"

	"presencebridge/internal/graph/graphapi"
)

// TestPresenceReadsCarryTheStatusMessageOutOfOfficeAndWorkLocation: both
// reads give the three rich properties as Graph sent them, workLocation
// included although the SDK's models do not know it.
func TestPresenceReadsCarryTheStatusMessageOutOfOfficeAndWorkLocation(t *testing.T) {
	e := newEnv(t)
	c, _ := e.app()
	u, plain := e.Tenant.Users[2], e.Tenant.Users[3]
	if err := c.SetStatusMessage(t.Context(), u.ID.String(), "On the support line", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := e.Sim.SetOutOfOffice(u.ID, true, "Back Monday"); err != nil {
		t.Fatal(err)
	}
	if err := e.Sim.SetWorkLocation(u.ID, "manual", "remote", "desk-4"); err != nil {
		t.Fatal(err)
	}
	one, err := c.GetPresence(t.Context(), u.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	bulk, err := c.GetPresences(t.Context(), []string{u.ID.String(), plain.ID.String()})
	if err != nil || len(bulk) != 2 {
		t.Fatalf("GetPresences: %d presences, %v", len(bulk), err)
	}
	for name, p := range map[string]graphapi.Presence{"GetPresence": one, "GetPresences": bulk[0]} {
		r := p.Rich
		if sm := r.StatusMessage; sm == nil || sm.Message.Content != "On the support line" || sm.Message.ContentType != "text" ||
			sm.ExpiryDateTime != nil || sm.PublishedDateTime != nil {
			t.Errorf("%s: statusMessage = %+v (another user's expiry and publish time are not shown)", name, sm)
		}
		if oo := r.OutOfOfficeSettings; oo == nil || !oo.IsOutOfOffice || oo.Message == nil || *oo.Message != "Back Monday" || !p.OutOfOffice {
			t.Errorf("%s: outOfOfficeSettings = %+v", name, oo)
		}
		if wl := r.WorkLocation; wl == nil || wl.WorkLocationType != "remote" || wl.Source != "manual" || wl.PlaceID == nil || *wl.PlaceID != "desk-4" {
			t.Errorf("%s: workLocation = %+v", name, wl)
		}
		if p.StatusMessage != "On the support line" {
			t.Errorf("%s: StatusMessage = %q", name, p.StatusMessage)
		}
	}
	r := bulk[1].Rich
	if r.StatusMessage != nil || r.OutOfOfficeSettings == nil || r.OutOfOfficeSettings.IsOutOfOffice ||
		r.WorkLocation == nil || r.WorkLocation.WorkLocationType != "unspecified" || r.WorkLocation.Source != "none" || r.WorkLocation.PlaceID != nil {
		t.Errorf("a user with nothing set: %+v %+v %+v", r.StatusMessage, r.OutOfOfficeSettings, r.WorkLocation)
	}
}
