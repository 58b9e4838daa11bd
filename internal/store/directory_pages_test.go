package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

// resolved enters upns, resolves each to a new object id and, when
// monitor is set, assigns them to it; it returns the object ids by UPN.
func resolved(t *testing.T, st *store.Store, tenant uuid.UUID, monitor *uuid.UUID, upns ...string) map[string]uuid.UUID {
	t.Helper()
	ctx := context.Background()
	entries := make([]store.DirectoryEntry, len(upns))
	for i, u := range upns {
		entries[i] = store.DirectoryEntry{UPN: u, ExternalID: "ext-" + u}
	}
	if _, err := st.UpsertDirectoryUsers(ctx, tenant, store.SourceList, entries); err != nil {
		t.Fatal(err)
	}
	rows := byUPN(t, st, tenant)
	out := map[string]uuid.UUID{}
	var res []store.Resolution
	var oids []uuid.UUID
	var mons []*uuid.UUID
	for _, u := range upns {
		oid := uuid.New()
		out[u] = oid
		res = append(res, store.Resolution{ID: rows[u].ID, Status: store.UserResolved, ObjectID: &oid, DisplayName: "Name of " + u})
		oids, mons = append(oids, oid), append(mons, monitor)
	}
	if err := st.RecordResolutions(ctx, tenant, res); err != nil {
		t.Fatal(err)
	}
	if monitor != nil {
		if err := st.AssignUsers(ctx, tenant, oids, mons); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// authorizedMonitor adds a monitor and marks it authorized.
func authorizedMonitor(t *testing.T, st *store.Store, tenant uuid.UUID, upn string) uuid.UUID {
	t.Helper()
	m, err := st.AddMonitor(context.Background(), tenant, upn)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Exec(t, st.Pool(), `UPDATE monitors SET status = 'authorized' WHERE id = $1`, m.ID)
	return m.ID
}

func TestUpsertingTheSameEntriesAgainWritesNothing(t *testing.T) {
	ctx := context.Background()
	st, ten := directoryFixture(t)
	entries := []store.DirectoryEntry{{UPN: "a@contoso.example", ExternalID: "1"}, {UPN: "b@contoso.example"}}
	if _, err := st.UpsertDirectoryUsers(ctx, ten, store.SourceList, entries); err != nil {
		t.Fatal(err)
	}
	before := byUPN(t, st, ten)
	res, err := st.UpsertDirectoryUsers(ctx, ten, store.SourceList, entries)
	if err != nil || res != (store.UpsertResult{Unchanged: 2}) {
		t.Fatalf("the same entries again: %+v, %v", res, err)
	}
	for upn, u := range byUPN(t, st, ten) {
		if !u.UpdatedAt.Equal(before[upn].UpdatedAt) {
			t.Errorf("%s was written again (updated_at %v, was %v)", upn, u.UpdatedAt, before[upn].UpdatedAt)
		}
	}
	res, err = st.UpsertDirectoryUsers(ctx, ten, store.SourceList, []store.DirectoryEntry{{UPN: "a@contoso.example", ExternalID: "2"}})
	if err != nil || res != (store.UpsertResult{Updated: 1}) {
		t.Errorf("a new external id: %+v, %v", res, err)
	}
}

func TestDirectoryUsersPagesInUPNOrderWithFilters(t *testing.T) {
	ctx := context.Background()
	st, ten := directoryFixture(t)
	m := authorizedMonitor(t, st, ten, "monitor@contoso.example")
	resolved(t, st, ten, &m, "carol@contoso.example", "alice@contoso.example")
	resolved(t, st, ten, nil, "bob@contoso.example")
	if _, err := st.UpsertDirectoryUsers(ctx, ten, store.SourceList, []store.DirectoryEntry{{UPN: "Alan@contoso.example"}, {UPN: "ghost@contoso.example"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordResolutions(ctx, ten, []store.Resolution{{ID: byUPN(t, st, ten)["ghost@contoso.example"].ID, Status: store.UserNotFound, Error: "no such account"}}); err != nil {
		t.Fatal(err)
	}
	upns := func(f store.UserFilter) []string {
		t.Helper()
		if f.Limit == 0 {
			f.Limit = 10
		}
		us, err := st.DirectoryUsersPage(ctx, ten, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, u := range us {
			out = append(out, u.UPN)
		}
		return out
	}
	yes, no := true, false
	for _, c := range []struct {
		name string
		f    store.UserFilter
		want string
	}{
		{"all", store.UserFilter{}, "[Alan@contoso.example alice@contoso.example bob@contoso.example carol@contoso.example ghost@contoso.example]"},
		{"first page", store.UserFilter{Limit: 2}, "[Alan@contoso.example alice@contoso.example]"},
		{"after a cursor", store.UserFilter{After: "alice@contoso.example"}, "[bob@contoso.example carol@contoso.example ghost@contoso.example]"},
		{"by status", store.UserFilter{Status: store.UserPending}, "[Alan@contoso.example]"},
		{"unresolved: not found, disabled, duplicate", store.UserFilter{Unresolved: true}, "[ghost@contoso.example]"},
		{"monitored", store.UserFilter{Monitored: &yes}, "[alice@contoso.example carol@contoso.example]"},
		{"not monitored", store.UserFilter{Monitored: &no}, "[Alan@contoso.example bob@contoso.example ghost@contoso.example]"},
		{"by UPN prefix, any case", store.UserFilter{UPNPrefix: "AL"}, "[Alan@contoso.example alice@contoso.example]"},
		{"prefix and cursor", store.UserFilter{UPNPrefix: "al", After: "alan@contoso.example"}, "[alice@contoso.example]"},
		{"a prefix nobody has", store.UserFilter{UPNPrefix: "zed"}, "[]"},
	} {
		if got := fmt.Sprint(upns(c.f)); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	// A monitor that needs re-authorization monitors nobody.
	testkit.Exec(t, st.Pool(), `UPDATE monitors SET status = 'needs_reauth' WHERE id = $1`, m)
	if got := fmt.Sprint(upns(store.UserFilter{Monitored: &yes})); got != "[]" {
		t.Errorf("monitored by a monitor needing re-authorization: %s", got)
	}
}

func TestFindDirectoryUserByObjectIDOrUPNWithinItsTenant(t *testing.T) {
	ctx := context.Background()
	st, ten := directoryFixture(t)
	m := authorizedMonitor(t, st, ten, "monitor@contoso.example")
	ids := resolved(t, st, ten, &m, "alice@contoso.example")
	for _, ref := range []string{ids["alice@contoso.example"].String(), "ALICE@contoso.example"} {
		u, err := st.FindDirectoryUser(ctx, ten, ref)
		if err != nil || u.UPN != "alice@contoso.example" || !u.Monitored || *u.MonitorID != m || u.ExternalID != "ext-alice@contoso.example" {
			t.Errorf("find %s: %+v, %v", ref, u, err)
		}
	}
	other, err := st.CreateTenant(ctx, "Fabrikam", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{ids["alice@contoso.example"].String(), "alice@contoso.example", uuid.NewString(), "nobody"} {
		if _, err := st.FindDirectoryUser(ctx, other.ID, ref); err != store.ErrUserNotFound {
			t.Errorf("another tenant finds %s: %v, want ErrUserNotFound", ref, err)
		}
	}
	loads, err := st.MonitorLoads(ctx, ten)
	if err != nil || loads[m] != 1 || len(loads) != 1 {
		t.Errorf("monitor loads = %v, %v", loads, err)
	}
}
