package enginetest

import (
	"fmt"
	"strings"
	"testing"

	"presencebridge/internal/graph"
	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/graphsim"
	"presencebridge/internal/roster"
	"presencebridge/internal/store"
)

var (
	_ graphapi.GroupDelta = (*graph.Client)(nil)
	_ roster.Directory    = (*graph.Client)(nil)
)

func TestRosterResolvesTwoThousandUPNsInBatchesWithEachFailureShown(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	ten, err := e.Sim.CreateTenant(2000, 1, e.Seed.App.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	disabled, err := e.Sim.AddUser(ten.ID, graphsim.SeedUser{UPN: "left.company@" + ten.Domain, Password: "x", Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	aliased := ten.Users[5]
	alias := "the.boss@" + ten.Domain
	if err := e.Sim.RenameUser(aliased.ID, graphsim.UserRename{Mail: alias}); err != nil {
		t.Fatal(err)
	}
	st, _, tenant := ourTenant(t, ten.ID)
	var entries []roster.Entry
	for i, u := range ten.Users {
		entries = append(entries, roster.Entry{UPN: u.UPN, TelephonyID: fmt.Sprintf("ext-%d", i)})
	}
	ghost := "ghost@" + ten.Domain
	entries = append(entries, roster.Entry{UPN: ghost}, roster.Entry{UPN: disabled.UPN}, roster.Entry{UPN: alias})
	entries, err = roster.Entries(entries)
	if err != nil {
		t.Fatal(err)
	}
	r := roster.New(st)
	if imp, err := r.Import(ctx, tenant, entries, roster.ImportOptions{Source: store.SourceCSV}); err != nil || imp.Added != 2003 {
		t.Fatalf("import: %+v, %v", imp, err)
	}

	c, rec := e.client(e.appTokensFor(ten))
	res, err := r.Resolve(ctx, tenant, c)
	if err != nil {
		t.Fatal(err)
	}
	want := roster.ResolveResult{Resolved: 2000, NotFound: 1, Disabled: 1, Duplicate: 1}
	if res != want {
		t.Fatalf("resolution = %+v, want %+v", res, want)
	}
	// 2,003 lookups by UPN at 300 per $batch (20 filters of 15), in rounds
	// of 600, then 2 by mail: 8 requests (101 at 20 per $batch), never one
	// per user.
	batches := len(rec.Requests("/$batch"))
	if batches < 7 || batches > 10 || len(rec.Requests("")) > batches+5 {
		t.Errorf("%d $batch requests of %d in all for 2,003 users", batches, len(rec.Requests("")))
	}

	resolved, err := st.ResolvedRoster(ctx, tenant)
	if err != nil || len(resolved) != 2000 {
		t.Fatalf("the engine sees %d users, want 2000 (%v)", len(resolved), err)
	}
	sum, err := r.Summary(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Total != 2003 || sum.Counts[store.UserResolved] != 2000 || len(sum.Problems) != 3 {
		t.Fatalf("summary: total %d, counts %v, %d problems", sum.Total, sum.Counts, len(sum.Problems))
	}
	byUPN := map[string]store.DirectoryUser{}
	for _, u := range sum.Problems {
		byUPN[u.UPN] = u
	}
	if u := byUPN[ghost]; u.Status != store.UserNotFound || !strings.Contains(u.Error, ghost) {
		t.Errorf("ghost: %+v", u)
	}
	if u := byUPN[disabled.UPN]; u.Status != store.UserDisabled || u.Error == "" {
		t.Errorf("disabled account: %+v", u)
	}
	if u := byUPN[alias]; u.Status != store.UserDuplicate || !strings.Contains(u.Error, aliased.UPN) || u.DuplicateOf == nil || u.ObjectID != nil {
		t.Errorf("the alias should be a duplicate naming %s: %+v", aliased.UPN, u)
	}
	all, _ := st.DirectoryUsers(ctx, tenant, false)
	if u := all[5]; u.UPN != aliased.UPN || u.ExternalID != "ext-5" || u.ObjectID == nil || *u.ObjectID != aliased.ID || u.DisplayName == "" {
		t.Errorf("the aliased user's row: %+v", u)
	}

	// Nothing pending: a second run asks Graph nothing.
	rec.Reset()
	if res, err := r.Resolve(ctx, tenant, c); err != nil || res != (roster.ResolveResult{}) || len(rec.Requests("")) != 0 {
		t.Errorf("second run: %+v, %v, %d requests", res, err, len(rec.Requests("")))
	}
}

func TestRosterResolutionLeavesThrottledUsersPending(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	st, _, tenant := ourTenant(t, e.Tenant.ID)
	r := roster.New(st)
	// 20 people: two lookups of the $batch (15 and 5), the first throttled.
	var entries []roster.Entry
	for _, u := range e.Tenant.Users[:20] {
		entries = append(entries, roster.Entry{UPN: u.UPN})
	}
	if _, err := r.Import(ctx, tenant, entries, roster.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	e.Sim.AddThrottleFault(graphsim.ThrottleFault{AppID: e.Seed.App.ClientID, Class: "directory", RetryAfter: 9, Times: 1})
	c, _ := e.app()
	res, err := r.Resolve(ctx, tenant, c)
	if err != nil || res.Resolved != 5 || res.Retry != 15 || res.NotFound != 0 || !graphapi.IsThrottled(res.RetryErr) || res.RetryAfter.Seconds() != 9 {
		t.Fatalf("throttled run: %+v, %v", res, err)
	}
	sum, _ := r.Summary(ctx, tenant)
	if sum.Counts[store.UserPending] != 15 || sum.Counts[store.UserNotFound] != 0 {
		t.Fatalf("after throttling: %v", sum.Counts)
	}
	res, err = r.Resolve(ctx, tenant, c)
	if err != nil || res.Resolved != 15 || res.Retry != 0 {
		t.Fatalf("next run: %+v, %v", res, err)
	}
}

func TestRosterGroupWithNestedGroupsIsReadInFull(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	inner, err := e.Sim.CreateGroup(e.Tenant.ID, graphsim.SeedGroup{DisplayName: "Inner", Members: []string{e.Tenant.Users[0].UPN, e.Tenant.Users[1].UPN}})
	if err != nil {
		t.Fatal(err)
	}
	outer, err := e.Sim.CreateGroup(e.Tenant.ID, graphsim.SeedGroup{DisplayName: "Outer", Members: []string{e.Tenant.Users[2].UPN, inner.ID.String()}})
	if err != nil {
		t.Fatal(err)
	}
	st, _, tenant := ourTenant(t, e.Tenant.ID)
	r := roster.New(st)
	r.UseGroup(ctx, tenant, outer.ID)
	c, _ := e.app()
	res, err := r.SyncGroup(ctx, tenant, c)
	if err != nil || !res.Nested || !res.Full || res.Added != 3 {
		t.Fatalf("nested group: %+v, %v", res, err)
	}
	// A member of the nested group leaves: group delta would not say so.
	if err := e.Sim.RemoveGroupMember(inner.ID, e.Tenant.Users[0].ID); err != nil {
		t.Fatal(err)
	}
	res, err = r.SyncGroup(ctx, tenant, c)
	if err != nil || res.Removed != 1 {
		t.Fatalf("second sync of a nested group: %+v, %v", res, err)
	}
}
