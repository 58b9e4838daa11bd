package graphsim

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// Writing another user's presence with an app-only token takes
// Presence.ReadWrite.All, the only application permission the pages list
// (https://learn.microsoft.com/en-us/graph/api/presence-setpresence). A
// role merely named Presence.ReadWrite (delegated-only at Microsoft) is
// refused like any other, never let through unanswered.
func TestAnAppWithoutPresenceReadWriteAllIsRefusedEveryWrite(t *testing.T) {
	f := newFixtureWith(t, func(s *Seed) {
		s.App.Application = slices.DeleteFunc(append(slices.Clone(DefaultApplication), "Presence.ReadWrite"),
			func(role string) bool { return role == "Presence.ReadWrite.All" })
	})
	ten := f.tenant()
	u := ten.Users[0]
	app := f.appToken(ten)
	base := "/v1.0/users/" + u.ID.String() + "/presence/"
	for op, body := range map[string]any{
		"setPresence":                map[string]string{"sessionId": f.seed.App.ClientID, "availability": "Busy", "activity": "InACall"},
		"clearPresence":              map[string]string{"sessionId": f.seed.App.ClientID},
		"setUserPreferredPresence":   map[string]string{"availability": "Busy", "activity": "Busy"},
		"clearUserPreferredPresence": map[string]any{},
		"setStatusMessage":           map[string]any{"statusMessage": map[string]any{"message": map[string]string{"content": "x", "contentType": "text"}}},
	} {
		res := f.call(app, "POST", base+op, body)
		if res.status != http.StatusForbidden {
			t.Errorf("%s: %d %q, want 403", op, res.status, res.body)
			continue
		}
		if e := res.graphErr(t); e.Code != "Forbidden" || !strings.Contains(e.Message, "Presence.ReadWrite.All") {
			t.Errorf("%s: error = %+v", op, e)
		}
	}
	if p := f.presence(app, u.ID); p.Availability != "Offline" {
		t.Errorf("presence changed by refused writes: %+v", p)
	}
}

// Writes spend the same presence budget as reads, 1,500 requests per 30 s
// per app and tenant (https://learn.microsoft.com/en-us/graph/throttling-limits),
// and a throttled write answers like a throttled read.
func TestPresenceWritesShareThePresenceBudget(t *testing.T) {
	f := newFixtureWith(t, writerApp)
	ten := f.tenant()
	u := ten.Users[0]
	app := f.appToken(ten)
	if err := f.sim.SetThrottleLimit("presence", ThrottleLimit{Requests: 2, Window: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	set := map[string]string{"sessionId": f.seed.App.ClientID, "availability": "Busy", "activity": "InACall", "expirationDuration": "PT4H"}
	if res := f.call(app, "POST", "/v1.0/users/"+u.ID.String()+"/presence/setPresence", set); res.status != 200 {
		t.Fatalf("setPresence: %d %s", res.status, res.body)
	}
	if res := f.call(app, "GET", "/v1.0/users/"+u.ID.String()+"/presence", nil); res.status != 200 {
		t.Fatalf("read: %d %s", res.status, res.body)
	}
	set["expirationDuration"] = "PT5M" // both ends of the range are allowed
	res := f.call(app, "POST", "/v1.0/users/"+u.ID.String()+"/presence/setPresence", set)
	if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") == "" || res.graphErr(t).Code != "TooManyRequests" {
		t.Fatalf("third presence request in the window: %d %s (Retry-After %q)", res.status, res.body, res.header.Get("Retry-After"))
	}
	f.advance(30 * time.Second)
	if res := f.call(app, "POST", "/v1.0/users/"+u.ID.String()+"/presence/setPresence", set); res.status != 200 {
		t.Errorf("after the window: %d %s", res.status, res.body)
	}
}
