package graphsim

import (
	"net/http"
	"slices"
	"sort"
	"testing"

	"github.com/google/uuid"
)

// withGroups applies the generated groups (Apply may not know them yet)
// and returns the tenant's "Presence Bridge users" group id.
func (f *fixture) withGroups() uuid.UUID {
	f.t.Helper()
	if err := f.sim.ApplyGroups(f.seed); err != nil {
		f.t.Fatal(err)
	}
	for _, g := range f.tenant().Groups {
		if g.DisplayName == PresenceGroupName {
			return g.ID
		}
	}
	f.t.Fatal("the generated tenant has no Presence Bridge users group")
	return uuid.Nil
}

func sortedIDs(items []map[string]any) []string {
	out := ids(items)
	sort.Strings(out)
	return out
}

func seedIDs(users ...SeedUser) []string {
	var out []string
	for _, u := range users {
		out = append(out, u.ID.String())
	}
	sort.Strings(out)
	return out
}

func TestGeneratedTenantHasThePresenceGroupWithEveryPerson(t *testing.T) {
	f := newFixture(t)
	gid := f.withGroups()
	if err := f.sim.ApplyGroups(f.seed); err != nil {
		t.Fatalf("applying the groups again must be harmless: %v", err)
	}
	tok := f.appToken(f.tenant())
	p := f.page(tok, "/v1.0/groups?$filter="+q("displayName eq '"+PresenceGroupName+"'"))
	if len(p.Value) != 1 || p.Value[0]["id"] != gid.String() {
		t.Fatalf("group lookup by name: %v", p.Value)
	}
	members := f.page(tok, "/v1.0/groups/"+gid.String()+"/members")
	if got, want := sortedIDs(members.Value), seedIDs(f.tenant().Users...); !slices.Equal(got, want) {
		t.Fatalf("members %v, want %v", got, want)
	}
	for _, m := range members.Value {
		if m["@odata.type"] != "#microsoft.graph.user" || m["userPrincipalName"] == nil {
			t.Fatalf("member %v", m)
		}
	}
	if members.Context != f.srv.URL+"/v1.0/$metadata#directoryObjects" {
		t.Fatalf("context %q", members.Context)
	}
}

func TestTransitiveMembersFlattenNestedGroups(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	inner := f.withGroups()
	outer, err := f.sim.CreateGroup(ten.ID, SeedGroup{DisplayName: "Everyone watched", Members: []string{ten.Monitors[0].UPN, inner.String()}})
	if err != nil {
		t.Fatal(err)
	}
	tok := f.appToken(ten)
	base := "/v1.0/groups/" + outer.ID.String()

	direct := f.page(tok, base+"/members")
	types := map[string]string{}
	for _, m := range direct.Value {
		types[m["id"].(string)] = m["@odata.type"].(string)
	}
	if len(types) != 2 || types[inner.String()] != "#microsoft.graph.group" || types[ten.Monitors[0].ID.String()] != "#microsoft.graph.user" {
		t.Fatalf("direct members %v", direct.Value)
	}

	all, _, pages := f.followAll(tok, base+"/transitiveMembers?$top=2&$select=id,displayName")
	want := append(seedIDs(append([]SeedUser{ten.Monitors[0]}, ten.Users...)...), inner.String())
	sort.Strings(want)
	if got := sortedIDs(all); !slices.Equal(got, want) || pages != 3 {
		t.Fatalf("transitive members %v in %d pages, want %v in 3", got, pages, want)
	}

	eventual := []string{"ConsistencyLevel", "eventual"}
	wantGraphError(t, f.get(tok, base+"/transitiveMembers/microsoft.graph.user"), http.StatusBadRequest, "Request_UnsupportedQuery", "ConsistencyLevel")
	wantGraphError(t, f.get(tok, base+"/transitiveMembers/microsoft.graph.user?$count=true"), http.StatusBadRequest, "Request_BadRequest", "$count")
	users := f.page(tok, base+"/transitiveMembers/microsoft.graph.user?$count=true&$select=id,userPrincipalName", eventual...)
	if users.Count == nil || *users.Count != 4 || len(users.Value) != 4 {
		t.Fatalf("users only: count %v, %v", users.Count, users.Value)
	}
	for _, u := range users.Value {
		if u["@odata.type"] != "#microsoft.graph.user" {
			t.Fatalf("cast returned %v", u)
		}
	}
	if users.Context != f.srv.URL+"/v1.0/$metadata#users(id,userPrincipalName)" {
		t.Fatalf("context %q", users.Context)
	}
}

func TestGroupMembersErrors(t *testing.T) {
	f := newFixture(t)
	gid := f.withGroups()
	tok := f.appToken(f.tenant())
	wantGraphError(t, f.get(tok, "/v1.0/groups/"+uuid.NewString()+"/members"), http.StatusNotFound, "Request_ResourceNotFound", "does not exist")
	wantGraphError(t, f.get(tok, "/v1.0/groups/not-a-guid/members"), http.StatusNotFound, "Request_ResourceNotFound", "")
	var otherGroup uuid.UUID
	for _, g := range f.seed.Tenants[1].Groups {
		otherGroup = g.ID
	}
	wantGraphError(t, f.get(tok, "/v1.0/groups/"+otherGroup.String()+"/members"), http.StatusNotFound, "Request_ResourceNotFound", "")
	wantGraphError(t, f.get(tok, "/v1.0/groups/"+gid.String()+"/members/microsoft.graph.device"), http.StatusBadRequest, "BadRequest", "")
	// The monitor's delegated token has Presence.Read.All and User.ReadBasic.All only.
	wantGraphError(t, f.get(f.userToken(f.tenant(), f.monitor()), "/v1.0/groups/"+gid.String()+"/members"),
		http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges")
}

func TestDeletedUsersLeaveGroupListings(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	gid := f.withGroups()
	tok := f.appToken(ten)
	if err := f.sim.DeleteUser(ten.Users[0].ID, false); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.RemoveGroupMember(gid, ten.Users[1].ID); err != nil {
		t.Fatal(err)
	}
	if got := sortedIDs(f.page(tok, "/v1.0/groups/"+gid.String()+"/members").Value); !slices.Equal(got, seedIDs(ten.Users[2])) {
		t.Fatalf("members after a delete and a removal: %v", got)
	}
	if err := f.sim.RestoreUser(ten.Users[0].ID); err != nil {
		t.Fatal(err)
	}
	if got := sortedIDs(f.page(tok, "/v1.0/groups/"+gid.String()+"/members").Value); !slices.Equal(got, seedIDs(ten.Users[0], ten.Users[2])) {
		t.Fatalf("a restored user keeps its membership: %v", got)
	}
}

func TestGetGroupAndGroupFilters(t *testing.T) {
	f := newFixture(t)
	gid := f.withGroups()
	tok := f.appToken(f.tenant())
	res := f.get(tok, "/v1.0/groups/"+gid.String()+"?$select=displayName")
	var g map[string]any
	res.json(t, &g)
	if res.status != 200 || g["displayName"] != PresenceGroupName || g["id"] != gid.String() || len(g) != 3 {
		t.Fatalf("get group: %d %v", res.status, g)
	}
	if p := f.page(tok, "/v1.0/groups?$filter="+q("startswith(displayName,'presence')")); len(p.Value) != 1 {
		t.Fatalf("startswith: %v", p.Value)
	}
	if p := f.page(tok, "/v1.0/groups?$filter="+q("displayName eq 'nobody'")); len(p.Value) != 0 {
		t.Fatalf("no match expected: %v", p.Value)
	}
	wantGraphError(t, f.get(tok, "/v1.0/groups?$filter="+q("userPrincipalName eq 'x'")), http.StatusBadRequest, "BadRequest", "microsoft.graph.group")
}
