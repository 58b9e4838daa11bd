package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"presencebridge/internal/presence"
	"presencebridge/internal/testkit"
)

// TestAUserGoingOutOfOfficeReachesThePlatformMappedByTheTenantsRule: the
// tenant maps out of office to away; in graphsim the user's automatic
// replies start (nothing else changes in Teams but the activity Teams
// derives); the platform receives, by webhook and on the stream, the same
// event with outOfOffice true, the reply, and the state from the rule —
// not the offline Available/OutOfOffice maps to by default.
func TestAUserGoingOutOfOfficeReachesThePlatformMappedByTheTenantsRule(t *testing.T) {
	w := newWorld(t)
	adele := w.seed.Tenants[0].Users[0]
	rules := presence.DefaultRules()
	rules.OutOfOffice = presence.Away
	body, _ := json.Marshal(map[string]any{"rules": rules})
	if err := w.call(t, http.MethodPut, w.bridge.URL+"/api/v1/mapping-rules", "Bearer "+w.apiKey, body); err != nil {
		t.Fatal(err)
	}

	// In first, and seen, before the next change: Graph may deliver two
	// changes in either order, and the older would then be stale.
	if err := w.sim.SetTeamsPresence(adele.ID, "Available", "Available"); err != nil {
		t.Fatal(err)
	}
	w.platform.wait(t, 1)
	raw := testkit.ReadSSE(t, w.bridge.URL+"/api/v1/events", w.apiKey, "", 1, 20*time.Second, func() {
		time.Sleep(300 * time.Millisecond) // the stream starts at now
		if err := w.call(t, http.MethodPost, w.simURL+"/_sim/users/"+adele.ID.String()+"/out-of-office", "",
			[]byte(`{"on":true,"message":"Back on Monday"}`)); err != nil {
			t.Error(err)
		}
	})
	hooks := w.platform.wait(t, 2)
	in, out := hooks[0].event.Data, hooks[1].event.Data
	if in.State != "available" || in.OutOfOfficeNow() {
		t.Errorf("before: %s", hooks[0].body)
	}
	if !out.OutOfOfficeNow() || out.OutOfOffice.Message != "Back on Monday" || out.State != "away" ||
		out.Availability != "Available" || out.Activity != "OutOfOffice" || out.Sequence != 2 {
		t.Errorf("out of office: %s", hooks[1].body)
	}
	if !strings.Contains(string(hooks[1].body), `"outOfOffice":{"isOutOfOffice":true,"message":"Back on Monday"}`) ||
		strings.Contains(string(hooks[1].body), `"statusMessage"`) || strings.Contains(string(hooks[1].body), `"workLocation"`) {
		t.Errorf("the event's rich presence is not as documented (unknown and none omitted): %s", hooks[1].body)
	}
	// One event builder: the same bytes on both channels.
	if !bytes.Equal(hooks[1].body, raw[0].Data) {
		t.Errorf("the event differs by channel:\nwebhook %s\nstream  %s", hooks[1].body, raw[0].Data)
	}
}

// call sends one request; an answer other than 200 is an error.
func (w *world) call(t *testing.T, method, url, auth string, body []byte) error {
	req, _ := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d", method, url, resp.StatusCode)
	}
	return nil
}
