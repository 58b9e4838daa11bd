package graph

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/roster"
	"presencebridge/internal/store"
)

// The roster follows a group through this client's delta paging, which
// only a test in this package can make small (pageSize), so this one stays
// beside the client; the engine's other roster tests are in
// internal/engine/enginetest.
func TestRosterFollowsAGroupWithDeltaQueries(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	var upns []string
	for _, u := range e.Tenant.Users[:5] {
		upns = append(upns, u.UPN)
	}
	g, err := e.Sim.CreateGroup(e.Tenant.ID, graphsim.SeedGroup{DisplayName: "Agents", Members: upns})
	if err != nil {
		t.Fatal(err)
	}
	st, _, tenant := ourTenant(t, e.Tenant.ID)
	r := roster.New(st)
	if err := r.UseGroup(ctx, tenant, g.ID); err != nil {
		t.Fatal(err)
	}
	c, rec := e.app()
	c.pageSize = 2 // the first round pages

	res, err := r.SyncGroup(ctx, tenant, c)
	if err != nil || !res.Full || res.Added != 5 || res.Removed != 0 {
		t.Fatalf("first sync: %+v, %v", res, err)
	}
	if n := len(rec.Requests("/groups/delta")); n < 3 {
		t.Errorf("first round in %d pages, want ≥ 3 of 2", n)
	}
	resolved, _ := st.ResolvedRoster(ctx, tenant)
	if len(resolved) != 5 {
		t.Fatalf("%d users resolved after the first sync", len(resolved))
	}

	joined, err := e.Sim.AddUser(e.Tenant.ID, graphsim.SeedUser{UPN: "new.agent@" + e.Tenant.Domain, DisplayName: "New Agent", Password: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Sim.AddGroupMember(g.ID, joined.ID.String()); err != nil {
		t.Fatal(err)
	}
	left := e.Tenant.Users[2]
	if err := e.Sim.RemoveGroupMember(g.ID, left.ID); err != nil {
		t.Fatal(err)
	}
	rec.Reset()
	res, err = r.SyncGroup(ctx, tenant, c)
	if err != nil || res.Full || res.Added != 1 || res.Removed != 1 {
		t.Fatalf("delta sync: %+v, %v", res, err)
	}
	deltaReqs := rec.Requests("/groups/delta")
	if len(deltaReqs) != 1 || !strings.Contains(deltaReqs[0].URL, "deltatoken") || len(rec.Requests("/transitiveMembers")) != 0 {
		t.Errorf("a delta sync reads only the delta: %+v", rec.Requests(""))
	}
	// Only the one who joined was looked up.
	if n := len(rec.Requests("/$batch")); n != 1 {
		t.Errorf("%d $batch lookups for one new member", n)
	}
	users, _ := st.DirectoryUsers(ctx, tenant, false)
	got := map[uuid.UUID]store.DirectoryUser{}
	for _, u := range users {
		got[*u.ObjectID] = u
	}
	if _, ok := got[left.ID]; ok || len(got) != 5 {
		t.Errorf("after the delta: %d rows, the member who left still there: %v", len(got), ok)
	}
	if u := got[joined.ID]; u.Status != store.UserResolved || u.UPN != joined.UPN || u.Source != store.SourceGroup {
		t.Errorf("the member who joined: %+v", u)
	}

	res, err = r.SyncGroup(ctx, tenant, c)
	if err != nil || res.Full || res.Added != 0 || res.Removed != 0 {
		t.Errorf("a sync without changes: %+v, %v", res, err)
	}
	sum, _ := r.Summary(ctx, tenant)
	if sum.Source.LastSyncAt == nil || sum.Source.LastSyncError != "" || sum.Source.DeltaLink == "" {
		t.Errorf("source after syncs: %+v", sum.Source)
	}
}
