package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

func directoryFixture(t *testing.T) (*store.Store, uuid.UUID) {
	t.Helper()
	pool := testkit.DB(t)
	st := storetest.Open(t, pool)
	ten, err := st.CreateTenant(context.Background(), "Contoso", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return st, ten.ID
}

func byUPN(t *testing.T, st *store.Store, tenant uuid.UUID) map[string]store.DirectoryUser {
	t.Helper()
	us, err := st.DirectoryUsers(context.Background(), tenant, false)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.DirectoryUser{}
	for _, u := range us {
		out[u.UPN] = u
	}
	return out
}

func TestUpsertDirectoryUsersKeepsExternalIDsAndRetriesFailures(t *testing.T) {
	ctx := context.Background()
	st, ten := directoryFixture(t)
	res, err := st.UpsertDirectoryUsers(ctx, ten, store.SourceCSV, []store.DirectoryEntry{
		{UPN: "a@contoso.example", ExternalID: "ext-a"}, {UPN: "b@contoso.example"}, {UPN: "c@contoso.example"}})
	if err != nil || res != (store.UpsertResult{Added: 3}) {
		t.Fatalf("first upsert: %+v, %v", res, err)
	}
	users := byUPN(t, st, ten)
	oid := uuid.New()
	err = st.RecordResolutions(ctx, ten, []store.Resolution{
		{ID: users["a@contoso.example"].ID, Status: store.UserResolved, ObjectID: &oid, GraphUPN: "A@contoso.example", DisplayName: "A"},
		{ID: users["b@contoso.example"].ID, Status: store.UserNotFound, Error: "no such user"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Again, in other case, without a's external id (a is unchanged) and
	// with one for b.
	res, err = st.UpsertDirectoryUsers(ctx, ten, store.SourceList, []store.DirectoryEntry{
		{UPN: "A@CONTOSO.EXAMPLE"}, {UPN: "b@contoso.example", ExternalID: "ext-b"}, {UPN: "d@contoso.example"}})
	if err != nil || res != (store.UpsertResult{Added: 1, Updated: 1, Unchanged: 1}) {
		t.Fatalf("second upsert: %+v, %v", res, err)
	}
	users = byUPN(t, st, ten)
	if a := users["a@contoso.example"]; a.ExternalID != "ext-a" || a.Status != store.UserResolved || a.GraphUPN != "A@contoso.example" || *a.ObjectID != oid {
		t.Errorf("a lost its external id or resolution: %+v", a)
	}
	if b := users["b@contoso.example"]; b.ExternalID != "ext-b" || b.Status != store.UserPending {
		t.Errorf("b should be pending again with its new external id: %+v", b)
	}
	if len(users) != 4 {
		t.Errorf("%d rows, want 4", len(users))
	}
	roster, _ := st.ResolvedRoster(ctx, ten)
	if len(roster) != 1 || roster[0].ObjectID != oid {
		t.Errorf("engine's roster = %+v, want only a", roster)
	}
}

func TestPendingDirectoryUsersComeInEntryOrderAfterACursor(t *testing.T) {
	ctx := context.Background()
	st, ten := directoryFixture(t)
	var entries []store.DirectoryEntry
	for _, u := range []string{"z", "y", "x", "w"} {
		entries = append(entries, store.DirectoryEntry{UPN: u + "@contoso.example"})
	}
	if _, err := st.UpsertDirectoryUsers(ctx, ten, store.SourceList, entries); err != nil {
		t.Fatal(err)
	}
	first, err := st.PendingDirectoryUsers(ctx, ten, 0, 3)
	if err != nil || len(first) != 3 || first[0].Lookup != "z@contoso.example" || first[2].Lookup != "x@contoso.example" {
		t.Fatalf("first page: %+v, %v", first, err)
	}
	rest, err := st.PendingDirectoryUsers(ctx, ten, first[2].Seq, 3)
	if err != nil || len(rest) != 1 || rest[0].Lookup != "w@contoso.example" {
		t.Fatalf("second page: %+v, %v", rest, err)
	}
}

func TestRemovingAUserSendsItsDuplicatesBackToPending(t *testing.T) {
	ctx := context.Background()
	st, ten := directoryFixture(t)
	st.UpsertDirectoryUsers(ctx, ten, store.SourceList, []store.DirectoryEntry{{UPN: "a@contoso.example"}, {UPN: "alias@contoso.example"}, {UPN: "b@contoso.example"}})
	users := byUPN(t, st, ten)
	oid := uuid.New()
	first := users["a@contoso.example"].ID
	if err := st.RecordResolutions(ctx, ten, []store.Resolution{
		{ID: first, Status: store.UserResolved, ObjectID: &oid},
		{ID: users["alias@contoso.example"].ID, Status: store.UserDuplicate, DuplicateOf: &first, Error: "same user as a@contoso.example"},
	}); err != nil {
		t.Fatal(err)
	}
	n, err := st.RemoveDirectoryUsers(ctx, ten, []string{"A@contoso.example"})
	if err != nil || n != 1 {
		t.Fatalf("removed %d, %v", n, err)
	}
	users = byUPN(t, st, ten)
	if alias := users["alias@contoso.example"]; alias.Status != store.UserPending || alias.DuplicateOf != nil || alias.Error != "" {
		t.Errorf("the duplicate should be pending again: %+v", alias)
	}
	if _, ok := users["a@contoso.example"]; ok || len(users) != 2 {
		t.Errorf("rows after removal: %v", users)
	}
	n, err = st.RemoveDirectoryUsersExcept(ctx, ten, []string{"B@contoso.example"})
	if err != nil || n != 1 {
		t.Fatalf("remove except: %d, %v", n, err)
	}
	if users = byUPN(t, st, ten); len(users) != 1 || users["b@contoso.example"].ID == uuid.Nil {
		t.Errorf("rows after replacing the list: %v", users)
	}
}

func TestReplaceWithGroupMembersDropsEveryoneElseAndTheirMonitors(t *testing.T) {
	ctx := context.Background()
	st, ten := directoryFixture(t)
	q := st.Pool()
	st.UpsertDirectoryUsers(ctx, ten, store.SourceList, []store.DirectoryEntry{{UPN: "listed@contoso.example", ExternalID: "x"}})
	stay, gone, later := uuid.New(), uuid.New(), uuid.New()
	members := []store.GroupMember{
		{ObjectID: stay, UPN: "stay@contoso.example", Status: store.UserResolved},
		{ObjectID: gone, UPN: "gone@contoso.example", Status: store.UserDisabled, Error: "account disabled"},
		{ObjectID: later, Status: store.UserPending, Error: "throttled"},
	}
	if _, err := st.ReplaceWithGroupMembers(ctx, ten, members); err != nil {
		t.Fatal(err)
	}
	users := byUPN(t, st, ten)
	if len(users) != 3 || users["stay@contoso.example"].Source != store.SourceGroup || users[later.String()].Status != store.UserPending {
		t.Fatalf("after the first replace: %+v", users)
	}
	m, err := st.AddMonitor(ctx, ten, "monitor@contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AssignUsers(ctx, ten, []uuid.UUID{gone}, []*uuid.UUID{&m.ID}); err != nil {
		t.Fatal(err)
	}
	removed, err := st.ReplaceWithGroupMembers(ctx, ten, members[:1])
	if err != nil || removed != 2 {
		t.Fatalf("second replace removed %d, %v", removed, err)
	}
	if users = byUPN(t, st, ten); len(users) != 1 {
		t.Errorf("rows left: %+v", users)
	}
	var assigned int
	q.QueryRow(ctx, `SELECT count(*) FROM directory_users WHERE monitor_id = $1`, m.ID).Scan(&assigned)
	if assigned != 0 {
		t.Errorf("%d users still assigned to the monitor", assigned)
	}
}

func TestRosterSourceRemembersTheGroupAndItsDeltaLink(t *testing.T) {
	ctx := context.Background()
	st, ten := directoryFixture(t)
	rs, err := st.TenantRosterSource(ctx, ten)
	if err != nil || rs.Kind != store.SourceList {
		t.Fatalf("default source: %+v, %v", rs, err)
	}
	g := uuid.New()
	if err := st.SetRosterSource(ctx, ten, &g); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordGroupSync(ctx, ten, "https://graph/delta?$deltatoken=1", true, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordGroupSync(ctx, ten, "", false, context.DeadlineExceeded); err != nil {
		t.Fatal(err)
	}
	rs, _ = st.TenantRosterSource(ctx, ten)
	if rs.Kind != store.SourceGroup || *rs.GroupID != g || rs.DeltaLink != "https://graph/delta?$deltatoken=1" || !rs.Nested ||
		rs.LastSyncError == "" || rs.LastSyncAt == nil {
		t.Errorf("a failed sync must keep the link and show its error: %+v", rs)
	}
	if err := st.SetRosterSource(ctx, ten, &g); err != nil {
		t.Fatal(err)
	}
	if rs, _ = st.TenantRosterSource(ctx, ten); rs.DeltaLink != "" || rs.LastSyncError != "" {
		t.Errorf("choosing the group again should start with a full read: %+v", rs)
	}
}
