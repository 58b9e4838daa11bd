package graphsim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// groupRound follows a groups delta round and merges each group's
// members@delta over the pages, as the documents tell clients to:
// member id → removed.
func (f *fixture) groupRound(token, target string, headers ...string) (map[string]map[string]bool, map[string]map[string]any, string, int) {
	f.t.Helper()
	items, last, pages := f.followAll(token, target, headers...)
	if !strings.HasPrefix(last.DeltaLink, f.srv.URL+"/v1.0/groups/delta?$deltatoken=") {
		f.t.Fatalf("the round ended without a deltaLink at the Sim: %+v", last)
	}
	members, groups := map[string]map[string]bool{}, map[string]map[string]any{}
	for _, it := range items {
		id := it["id"].(string)
		groups[id] = it
		if members[id] == nil {
			members[id] = map[string]bool{}
		}
		list, _ := it["members@delta"].([]any)
		for _, raw := range list {
			m := raw.(map[string]any)
			if len(m) < 2 || m["@odata.type"] == nil {
				f.t.Fatalf("member item lacks @odata.type or id: %v", m)
			}
			members[id][m["id"].(string)] = removedReason(m) != ""
		}
	}
	return members, groups, last.DeltaLink, pages
}

func deltaFilter(ids ...uuid.UUID) string {
	var parts []string
	for _, id := range ids {
		parts = append(parts, "id eq '"+id.String()+"'")
	}
	return "/v1.0/groups/delta()?$select=members&$filter=" + url.QueryEscape(strings.Join(parts, " or "))
}

func TestGroupsDeltaFirstRoundListsMembersAcrossPagesThenOnlyChanges(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	tok := f.appToken(ten)
	g, err := f.sim.CreateGroup(ten.ID, SeedGroup{DisplayName: "Agents", Members: []string{ten.Users[0].UPN, ten.Users[1].UPN, ten.Users[2].UPN}})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := f.sim.CreateGroup(ten.ID, SeedGroup{DisplayName: "Other", Members: []string{ten.Users[0].UPN}})
	small := []string{"Prefer", "odata.maxpagesize=2"}

	members, groups, link, pages := f.groupRound(tok, deltaFilter(g.ID), small...)
	if len(groups) != 1 || len(members[g.ID.String()]) != 3 || pages < 2 {
		t.Fatalf("first round: groups %v, members %v in %d pages", groups, members, pages)
	}
	if _, ok := groups[g.ID.String()]["displayName"]; ok {
		t.Errorf("$select=members returns only id and members@delta: %v", groups[g.ID.String()])
	}
	for id, removed := range members[g.ID.String()] {
		if removed {
			t.Errorf("member %s reported removed in the first round", id)
		}
	}

	added, _ := f.sim.AddUser(ten.ID, SeedUser{UPN: "new.agent@" + ten.Domain, DisplayName: "New Agent", Password: "x"})
	if err := f.sim.AddGroupMember(g.ID, added.ID.String()); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.RemoveGroupMember(g.ID, ten.Users[1].ID); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.AddGroupMember(other.ID, ten.Users[2].UPN); err != nil { // another group: filtered out
		t.Fatal(err)
	}
	members, _, next, _ := f.groupRound(tok, link)
	want := map[string]bool{added.ID.String(): false, ten.Users[1].ID.String(): true}
	if got := members[g.ID.String()]; len(members) != 1 || len(got) != 2 || got[added.ID.String()] != want[added.ID.String()] ||
		!got[ten.Users[1].ID.String()] {
		t.Fatalf("changes: %v, want %v", members, want)
	}

	// A user deleted for good leaves the group: reported as removed.
	if err := f.sim.DeleteUser(ten.Users[0].ID, true); err != nil {
		t.Fatal(err)
	}
	members, _, next, _ = f.groupRound(tok, next)
	if got := members[g.ID.String()]; len(got) != 1 || !got[ten.Users[0].ID.String()] {
		t.Fatalf("after deleting a member: %v", members)
	}
	if quiet, _, _, _ := f.groupRound(tok, next); len(quiet) != 0 {
		t.Fatalf("nothing changed, yet: %v", quiet)
	}
}

func TestGroupsDeltaShowsNestedGroupsAsGroupMembersAndNoMembersWithoutMembers(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	tok := f.appToken(ten)
	inner, _ := f.sim.CreateGroup(ten.ID, SeedGroup{DisplayName: "Inner", Members: []string{ten.Users[0].UPN}})
	outer, _ := f.sim.CreateGroup(ten.ID, SeedGroup{DisplayName: "Outer", Members: []string{inner.ID.String()}})
	empty, _ := f.sim.CreateGroup(ten.ID, SeedGroup{DisplayName: "Empty"})
	items, _, _ := f.followAll(tok, "/v1.0/groups/delta?$filter="+url.QueryEscape("id eq '"+outer.ID.String()+"' or id eq '"+empty.ID.String()+"'"))
	byID := map[string]map[string]any{}
	for _, it := range items {
		byID[it["id"].(string)] = it
	}
	// No $select: the default properties and members@delta.
	if byID[outer.ID.String()]["displayName"] != "Outer" {
		t.Errorf("outer: %v", byID[outer.ID.String()])
	}
	list, _ := byID[outer.ID.String()]["members@delta"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["@odata.type"] != "#microsoft.graph.group" || list[0].(map[string]any)["id"] != inner.ID.String() {
		t.Errorf("outer's members@delta = %v, want only the nested group, not its members", list)
	}
	if _, ok := byID[empty.ID.String()]["members@delta"]; ok || byID[empty.ID.String()] == nil {
		t.Errorf("a group without members has no members@delta: %v", byID[empty.ID.String()])
	}
}

func TestGroupsDeltaRefusesBadOptionsAndExpiredLinks(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	tok := f.appToken(ten)
	for _, target := range []string{
		"/v1.0/groups/delta?$top=5",
		"/v1.0/groups/delta?$filter=" + url.QueryEscape("displayName eq 'x'"),
		"/v1.0/groups/delta?$select=nosuch",
		"/v1.0/groups/delta?$skiptoken=garbled",
	} {
		if res := f.get(tok, target); res.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", target, res.status)
		}
	}
	_, _, link, _ := f.groupRound(tok, "/v1.0/groups/delta?$select=members")
	f.advance(8 * 24 * time.Hour)
	tok = f.appToken(ten)
	res := f.get(tok, link)
	if res.status != http.StatusBadRequest || res.graphErr(t).Code != "syncStateNotFound" {
		t.Errorf("an 8-day-old delta link: %d %s", res.status, res.body)
	}
}
