package graphsim

import (
	"net/http"
	"strings"
	"testing"
)

// Findings of the msgraph-sdk-go suite (internal/graph), pinned here.

func TestTheGraphNamespaceAliasCastsLikeTheFullName(t *testing.T) {
	f := newFixture(t)
	gid := f.withGroups()
	tok := f.appToken(f.tenant())
	for _, cast := range []string{"microsoft.graph.user", "graph.user"} {
		p := f.page(tok, "/v1.0/groups/"+gid.String()+"/transitiveMembers/"+cast+"?$count=true&$select=id", "ConsistencyLevel", "eventual")
		if len(p.Value) != len(f.tenant().Users) {
			t.Errorf("cast %s: %d members, want %d", cast, len(p.Value), len(f.tenant().Users))
		}
	}
	if res := f.get(tok, "/v1.0/groups/"+gid.String()+"/transitiveMembers/graph.device?$count=true", "ConsistencyLevel", "eventual"); res.status != 400 {
		t.Errorf("unknown cast: %d", res.status)
	}
}

func TestDelegatedPresenceWriteCoversOnlyTheSignedInUser(t *testing.T) {
	f := newFixtureWith(t, func(s *Seed) { s.App.Delegated = append(append([]string{}, DefaultDelegated...), "Presence.ReadWrite") })
	ten := f.tenant()
	mon := ten.Monitors[0]
	tok := f.userToken(ten, mon)
	body := map[string]string{"availability": "Busy", "activity": "Busy"}
	res := f.call(tok, "POST", "/v1.0/users/"+ten.Users[0].ID.String()+"/presence/setUserPreferredPresence", body)
	if res.status != http.StatusForbidden || !strings.Contains(res.graphErr(t).Message, "Presence.ReadWrite.All") {
		t.Errorf("another user's presence: %d %s", res.status, res.body)
	}
	f.sim.SetTeamsPresence(mon.ID, "Available", "Available")
	if res := f.call(tok, "POST", "/v1.0/users/"+mon.ID.String()+"/presence/setUserPreferredPresence", body); res.status != 200 {
		t.Errorf("own presence: %d %s", res.status, res.body)
	}
	if p := f.presence(f.appToken(ten), mon.ID); p.Availability != "Busy" {
		t.Errorf("own preferred presence not applied: %+v", p)
	}
}

func TestSequenceNumberIsThereBeforeTheFirstChange(t *testing.T) {
	f := newFixture(t)
	if p := f.presence(f.appToken(f.tenant()), f.tenant().Users[0].ID); p.SequenceNumber == "" {
		t.Error("a user who never changed presence has no sequenceNumber")
	}
}
