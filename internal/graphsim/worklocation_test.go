package graphsim

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
)

type workLocationBody struct {
	WorkLocationType string  `json:"workLocationType"`
	Source           string  `json:"source"`
	PlaceID          *string `json:"placeId"`
}

func TestTheWorkLocationIsTheStrongestLayerSetAsMicrosoftDocuments(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	u := ten.Users[0]
	app := f.appToken(ten)
	read := func() workLocationBody {
		t.Helper()
		var p struct {
			WorkLocation *workLocationBody `json:"workLocation"`
		}
		f.call(app, "GET", "/v1.0/users/"+u.ID.String()+"/presence", nil).json(t, &p)
		if p.WorkLocation == nil {
			t.Fatal("the presence has no workLocation")
		}
		return *p.WorkLocation
	}
	set := func(body map[string]string) graphResponse {
		t.Helper()
		return f.call("", "POST", "/_sim/users/"+u.ID.String()+"/work-location", body)
	}
	if wl := read(); wl.WorkLocationType != "unspecified" || wl.Source != "none" || wl.PlaceID != nil {
		t.Errorf("with no layer set: %+v, want unspecified from none", wl)
	}
	steps := []struct {
		body             map[string]string
		kind, source, id string
	}{
		{map[string]string{"source": "scheduled", "workLocationType": "office"}, "office", "scheduled", ""},
		{map[string]string{"source": "automatic", "workLocationType": "REMOTE"}, "remote", "automatic", ""},
		{map[string]string{"workLocationType": "timeoff", "placeId": "place-7"}, "timeOff", "manual", "place-7"}, // manual by default
		{map[string]string{"source": "manual", "workLocationType": "unspecified"}, "remote", "automatic", ""},    // cleared: automatic again
		{map[string]string{"source": "automatic", "workLocationType": ""}, "office", "scheduled", ""},
	}
	for i, st := range steps {
		if res := set(st.body); res.status != http.StatusOK {
			t.Fatalf("step %d: %d %s", i, res.status, res.body)
		}
		wl := read()
		id := ""
		if wl.PlaceID != nil {
			id = *wl.PlaceID
		}
		if wl.WorkLocationType != st.kind || wl.Source != st.source || id != st.id {
			t.Errorf("step %d: %+v, want %s from %s at %q", i, wl, st.kind, st.source, st.id)
		}
	}

	// getPresencesByUserId carries it too.
	var bulk struct {
		Value []struct {
			WorkLocation workLocationBody `json:"workLocation"`
		} `json:"value"`
	}
	f.call(app, "POST", "/v1.0/communications/getPresencesByUserId", map[string]any{"ids": []string{u.ID.String()}}).json(t, &bulk)
	if len(bulk.Value) != 1 || bulk.Value[0].WorkLocation.WorkLocationType != "office" {
		t.Errorf("getPresencesByUserId: %+v", bulk)
	}

	for name, body := range map[string]map[string]string{
		"unknown type":   {"workLocationType": "beach"},
		"unknown source": {"source": "guess", "workLocationType": "office"},
	} {
		if res := set(body); res.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, res.status, res.body)
		}
	}
	if res := f.call("", "POST", "/_sim/users/"+ten.Users[1].ID.String()[:8]+"/work-location", map[string]string{}); res.status != http.StatusBadRequest {
		t.Errorf("a user id that is not a GUID: %d", res.status)
	}
	if res := f.call("", "POST", "/_sim/users/"+uuid.NewString()+"/work-location", map[string]string{"workLocationType": "office"}); res.status != http.StatusNotFound {
		t.Errorf("no such user: %d %s", res.status, res.body)
	}
}

// TestEveryChangeOfTheResourceIsNotifiedAndNothingElse: a status message,
// out of office and a work location each change the presence resource, so
// each reaches a rich subscription, carrying the new value; the same value
// again changes nothing and notifies nothing (docs/graph.md#presence-change-notifications).
func TestEveryChangeOfTheResourceIsNotifiedAndNothingElse(t *testing.T) {
	f := newFixtureWith(t, writerApp)
	startNotifier(t, f)
	rc := newReceiver(t)
	ten := f.tenant()
	u := ten.Users[1]
	f.subscribe(f.userToken(ten, f.monitor()), f.subRequest(rc.URL, bulkResource(userIDs(ten.Users)...), true))
	_, key := testEncryptionCert(t)
	app := f.appToken(ten)
	status := func(text string) {
		t.Helper()
		body := map[string]any{"statusMessage": map[string]any{"message": map[string]string{"content": text, "contentType": "text"}}}
		if res := f.call(app, "POST", "/v1.0/users/"+u.ID.String()+"/presence/setStatusMessage", body); res.status != http.StatusOK {
			t.Fatalf("setStatusMessage: %d %s", res.status, res.body)
		}
	}
	ctl := func(path string, body any) {
		t.Helper()
		if res := f.call("", "POST", "/_sim/users/"+u.ID.String()+path, body); res.status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, res.status, res.body)
		}
	}
	notified := func(what string) map[string]any {
		t.Helper()
		c := decodeCollection(t, rc.next(t).Body)
		if len(c.Value) != 1 {
			t.Fatalf("%s: %d notifications, want 1", what, len(c.Value))
		}
		return decrypt(t, key, c.Value[0])
	}

	status("Back at two")
	p := notified("status message")
	if sm, _ := p["statusMessage"].(map[string]any); sm == nil || sm["message"].(map[string]any)["content"] != "Back at two" {
		t.Errorf("statusMessage in the notification: %v", p["statusMessage"])
	}
	ctl("/out-of-office", map[string]any{"on": true, "message": "On leave"})
	p = notified("out of office")
	if oof, _ := p["outOfOfficeSettings"].(map[string]any); oof["isOutOfOffice"] != true || oof["message"] != "On leave" {
		t.Errorf("outOfOfficeSettings in the notification: %v", p["outOfOfficeSettings"])
	}
	ctl("/out-of-office", map[string]any{"on": true, "message": "On leave until May"})
	if oof, _ := notified("out-of-office message")["outOfOfficeSettings"].(map[string]any); oof["message"] != "On leave until May" {
		t.Errorf("a new out-of-office message: %v", oof)
	}
	ctl("/work-location", map[string]string{"workLocationType": "remote"})
	p = notified("work location")
	if wl, _ := p["workLocation"].(map[string]any); wl["workLocationType"] != "remote" || wl["source"] != "manual" {
		t.Errorf("workLocation in the notification: %v", p["workLocation"])
	}
	seq := p["sequenceNumber"].(string)

	// The same values again are no new version.
	ctl("/out-of-office", map[string]any{"on": true, "message": "On leave until May"})
	ctl("/work-location", map[string]string{"workLocationType": "remote"})
	rc.none(t)
	if now := f.sim.currentPresence(u.ID).SequenceNumber; now != seq {
		t.Errorf("sequenceNumber moved from %s to %s without a change", seq, now)
	}
	status("")
	if p := notified("status message cleared"); p["statusMessage"] != nil {
		t.Errorf("a cleared status message is still notified: %v", p["statusMessage"])
	}
}
