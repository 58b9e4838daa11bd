package roster_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/roster"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// fakeDirectory answers lookups from users (by UPN or mail) and errs.
type fakeDirectory struct {
	users map[string]graphapi.User
	errs  map[string]error
	asked [][]string
}

func (f *fakeDirectory) ResolveUsers(_ context.Context, in []string) (map[string]graphapi.User, map[string]error) {
	f.asked = append(f.asked, in)
	found, failed := map[string]graphapi.User{}, map[string]error{}
	for _, x := range in {
		if err := f.errs[x]; err != nil {
			failed[x] = err
		} else if u, ok := f.users[strings.ToLower(x)]; ok {
			found[x] = u
		} else {
			failed[x] = &graphapi.Error{Status: http.StatusNotFound, Code: "Request_ResourceNotFound"}
		}
	}
	return found, failed
}

func (f *fakeDirectory) GroupMembers(context.Context, string) ([]graphapi.User, error) {
	return nil, errors.New("not used")
}

func (f *fakeDirectory) GroupMembersDelta(context.Context, string, string) (graphapi.GroupDeltaPage, error) {
	return graphapi.GroupDeltaPage{}, errors.New("not used")
}

func newRoster(t *testing.T) (*roster.Roster, *store.Store, uuid.UUID) {
	t.Helper()
	pool := testkit.DB(t)
	st := storetest.Open(t, pool)
	ten, err := st.CreateTenant(context.Background(), "Contoso", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return roster.New(st), st, ten.ID
}

func statuses(t *testing.T, st *store.Store, tenant uuid.UUID) map[string]store.DirectoryUser {
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

func TestTheLaterOfTwoEntriesForOneUserIsTheDuplicate(t *testing.T) {
	ctx := context.Background()
	r, st, ten := newRoster(t)
	ann := graphapi.User{ID: uuid.NewString(), UPN: "ann@contoso.example", Mail: "boss@contoso.example", AccountEnabled: true}
	dir := &fakeDirectory{users: map[string]graphapi.User{"ann@contoso.example": ann, "boss@contoso.example": ann}}
	// The alias comes first: it is the user's row, the UPN the duplicate.
	r.Import(ctx, ten, []roster.Entry{{UPN: "boss@contoso.example", TelephonyID: "7"}, {UPN: "ann@contoso.example"}}, roster.ImportOptions{})
	res, err := r.Resolve(ctx, ten, dir)
	if err != nil || res.Resolved != 1 || res.Duplicate != 1 {
		t.Fatalf("%+v, %v", res, err)
	}
	got := statuses(t, st, ten)
	first, dup := got["boss@contoso.example"], got["ann@contoso.example"]
	if first.Status != store.UserResolved || first.GraphUPN != "ann@contoso.example" || first.ExternalID != "7" {
		t.Errorf("first entry: %+v", first)
	}
	if dup.Status != store.UserDuplicate || *dup.DuplicateOf != first.ID || !strings.Contains(dup.Error, "boss@contoso.example") {
		t.Errorf("later entry: %+v", dup)
	}

	// Added in a later import, the same user is again a duplicate of the
	// row that holds it; removing that row lets the duplicate take over.
	r.Import(ctx, ten, []roster.Entry{{UPN: "ANN@contoso.example"}}, roster.ImportOptions{})
	if n, err := r.Remove(ctx, ten, []string{"boss@contoso.example"}); err != nil || n != 1 {
		t.Fatalf("remove: %d, %v", n, err)
	}
	res, err = r.Resolve(ctx, ten, dir)
	if err != nil || res.Resolved != 1 || res.Duplicate != 0 {
		t.Fatalf("after removing the first: %+v, %v", res, err)
	}
	if got := statuses(t, st, ten)["ann@contoso.example"]; got.Status != store.UserResolved || got.ObjectID.String() != ann.ID {
		t.Errorf("the former duplicate: %+v", got)
	}
}

func TestTransientFailuresStayPendingAndARefusedTokenStopsTheRun(t *testing.T) {
	ctx := context.Background()
	r, st, ten := newRoster(t)
	ok := graphapi.User{ID: uuid.NewString(), UPN: "ok@contoso.example", AccountEnabled: true}
	dir := &fakeDirectory{users: map[string]graphapi.User{"ok@contoso.example": ok}, errs: map[string]error{
		"busy@contoso.example": &graphapi.Error{Status: http.StatusServiceUnavailable},
		"net@contoso.example":  errors.New("connection reset"),
	}}
	r.Import(ctx, ten, []roster.Entry{{UPN: "ok@contoso.example"}, {UPN: "busy@contoso.example"}, {UPN: "net@contoso.example"}}, roster.ImportOptions{})
	res, err := r.Resolve(ctx, ten, dir)
	if err != nil || res.Resolved != 1 || res.Retry != 2 || res.NotFound != 0 || res.RetryErr == nil {
		t.Fatalf("%+v, %v", res, err)
	}
	got := statuses(t, st, ten)
	if u := got["busy@contoso.example"]; u.Status != store.UserPending || !strings.Contains(u.Error, "will retry") {
		t.Errorf("throttled user: %+v", u)
	}
	// Each pending user is asked once per run.
	if len(dir.asked) != 1 {
		t.Errorf("asked Graph %d times in one run", len(dir.asked))
	}

	dir.errs["busy@contoso.example"] = &graphapi.Error{Status: http.StatusForbidden, Code: "Authorization_RequestDenied"}
	if _, err := r.Resolve(ctx, ten, dir); !graphapi.IsAuth(err) {
		t.Errorf("a 403 should stop the run with the error, got %v", err)
	}
	if u := statuses(t, st, ten)["busy@contoso.example"]; u.Status != store.UserPending {
		t.Errorf("a refused token must not mark the user: %+v", u)
	}
}

func TestImportReplaceAndGroupRoster(t *testing.T) {
	ctx := context.Background()
	r, st, ten := newRoster(t)
	r.Import(ctx, ten, []roster.Entry{{UPN: "a@contoso.example"}, {UPN: "b@contoso.example"}}, roster.ImportOptions{})
	res, err := r.Import(ctx, ten, []roster.Entry{{UPN: "b@contoso.example", TelephonyID: "9"}, {UPN: "c@contoso.example"}},
		roster.ImportOptions{Source: store.SourceCSV, Replace: true})
	if err != nil || res != (roster.ImportResult{Added: 1, Updated: 1, Removed: 1}) {
		t.Fatalf("replace: %+v, %v", res, err)
	}
	got := statuses(t, st, ten)
	if _, ok := got["a@contoso.example"]; ok || got["b@contoso.example"].ExternalID != "9" || got["c@contoso.example"].Source != store.SourceCSV {
		t.Errorf("after replace: %+v", got)
	}
	r.UseGroup(ctx, ten, uuid.New())
	if _, err := r.Import(ctx, ten, []roster.Entry{{UPN: "d@contoso.example"}}, roster.ImportOptions{}); !errors.Is(err, roster.ErrGroupRoster) {
		t.Errorf("import into a group roster: %v", err)
	}
	sum, err := r.Summary(ctx, ten)
	if err != nil || sum.Total != 2 || sum.Counts[store.UserPending] != 2 || len(sum.Problems) != 2 || sum.Source.Kind != store.SourceGroup {
		t.Errorf("summary: %+v, %v", sum, err)
	}
}

// A form's choice replaces the whole roster in the caller's transaction:
// a group becomes the source (its rows are the group sync's to replace),
// choosing the same group again keeps its delta link, and a list ends the
// group and replaces the rows.
func TestChooseSwitchesBetweenAListAndAGroup(t *testing.T) {
	ctx := context.Background()
	r, st, ten := newRoster(t)
	choose := func(c roster.Choice) roster.ImportResult {
		t.Helper()
		var res roster.ImportResult
		err := st.InTx(ctx, func(tx store.Tx) (err error) {
			res, err = r.Choose(ctx, tx, ten, c)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := choose(roster.Choice{Entries: []roster.Entry{{UPN: "a@contoso.example"}, {UPN: "b@contoso.example"}}}); res.Added != 2 {
		t.Errorf("first list: %+v", res)
	}
	group := uuid.New()
	choose(roster.Choice{Group: &group, Entries: []roster.Entry{{UPN: "ignored@contoso.example"}}})
	src, err := st.TenantRosterSource(ctx, ten)
	if err != nil || src.Kind != store.SourceGroup || *src.GroupID != group {
		t.Fatalf("after choosing the group: %+v, %v", src, err)
	}
	if got := statuses(t, st, ten); len(got) != 2 {
		t.Errorf("choosing a group changed the rows before its sync: %+v", got)
	}
	if err := st.RecordGroupSync(ctx, ten, "https://graph.example/delta?token=1", false, nil); err != nil {
		t.Fatal(err)
	}
	choose(roster.Choice{Group: &group})
	if src, _ := st.TenantRosterSource(ctx, ten); src.DeltaLink == "" {
		t.Errorf("choosing the same group again dropped its delta link: %+v", src)
	}
	// b is pending as before, so the list leaves it unchanged.
	if res := choose(roster.Choice{Entries: []roster.Entry{{UPN: "b@contoso.example"}, {UPN: "c@contoso.example"}}}); res != (roster.ImportResult{Added: 1, Unchanged: 1, Removed: 1}) {
		t.Errorf("back to a list: %+v", res)
	}
	if src, _ := st.TenantRosterSource(ctx, ten); src.Kind != store.SourceList {
		t.Errorf("a list did not end the group roster: %+v", src)
	}
}
