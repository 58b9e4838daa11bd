package graphsim

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// deltaRound follows a delta round from target to its deltaLink and
// returns the items, keyed by id.
func (f *fixture) deltaRound(token, target string, headers ...string) (map[string]map[string]any, string) {
	f.t.Helper()
	items, last, _ := f.followAll(token, target, headers...)
	if last.DeltaLink == "" {
		f.t.Fatalf("the round ended without a deltaLink: %+v", last)
	}
	if !strings.HasPrefix(last.DeltaLink, f.srv.URL+"/v1.0/users/delta?$deltatoken=") {
		f.t.Fatalf("deltaLink %q is not an absolute URL at the Sim", last.DeltaLink)
	}
	out := map[string]map[string]any{}
	for _, it := range items {
		out[it["id"].(string)] = it
	}
	return out, last.DeltaLink
}

func removedReason(it map[string]any) string {
	r, _ := it["@removed"].(map[string]any)
	s, _ := r["reason"].(string)
	return s
}

func TestDeltaInitialRoundPagesThenReportsOnlyChanges(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	tok := f.appToken(ten)
	small := []string{"Prefer", "odata.maxpagesize=2"}

	items, last, pages := f.followAll(tok, "/v1.0/users/delta()", small...)
	first := len(items)
	if first != len(allUsers(ten)) || pages != (first+1)/2 {
		t.Fatalf("initial round: %d users in %d pages, want %d users", first, pages, len(allUsers(ten)))
	}
	link := last.DeltaLink
	if link == "" {
		t.Fatal("no deltaLink after the initial round")
	}

	added, err := f.sim.AddUser(ten.ID, SeedUser{UPN: "new.hire@" + ten.Domain, DisplayName: "New Hire", Password: "x"})
	if err != nil {
		t.Fatal(err)
	}
	renamed, soft, hard := ten.Users[0], ten.Users[1], ten.Users[2]
	if err := f.sim.RenameUser(renamed.ID, UserRename{DisplayName: "Adele Renamed"}); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.DeleteUser(soft.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.DeleteUser(hard.ID, true); err != nil {
		t.Fatal(err)
	}
	changes, next := f.deltaRound(tok, link, small...)
	if len(changes) != 4 {
		t.Fatalf("%d changes, want 4: %v", len(changes), changes)
	}
	if changes[added.ID.String()]["displayName"] != "New Hire" {
		t.Fatalf("added user: %v", changes[added.ID.String()])
	}
	if changes[renamed.ID.String()]["displayName"] != "Adele Renamed" {
		t.Fatalf("renamed user: %v", changes[renamed.ID.String()])
	}
	if r := removedReason(changes[soft.ID.String()]); r != "changed" {
		t.Fatalf("soft-deleted user: reason %q, want changed", r)
	}
	if r := removedReason(changes[hard.ID.String()]); r != "deleted" {
		t.Fatalf("permanently deleted user: reason %q, want deleted", r)
	}

	quiet, _ := f.deltaRound(tok, next)
	if len(quiet) != 0 {
		t.Fatalf("nothing changed, yet the round returned %v", quiet)
	}
}

func TestDeltaPathAndFunctionFormsAgree(t *testing.T) {
	f := newFixture(t)
	tok := f.appToken(f.tenant())
	a, _ := f.deltaRound(tok, "/v1.0/users/delta")
	b, _ := f.deltaRound(tok, "/v1.0/users/delta()")
	if len(a) != len(allUsers(f.tenant())) || len(a) != len(b) {
		t.Fatalf("delta %d users, delta() %d users", len(a), len(b))
	}
}

func TestDeltaSeesChangesMadeOutsideThisFile(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	tok := f.appToken(ten)
	_, link := f.deltaRound(tok, "/v1.0/users/delta?$select=id,accountEnabled")
	diego := ten.Users[2]
	if st, body := f.ctl(http.MethodPatch, "/users/"+diego.ID.String(), map[string]any{"enabled": false}); st != 204 {
		t.Fatalf("disable: %d %s", st, body)
	}
	more := GenerateSeed(1, 0, 0, 7)
	more.App = SeedApp{}
	more.Tenants[0].ID, more.Tenants[0].Domain = ten.ID, ten.Domain
	more.Tenants[0].Admin = SeedUser{}
	more.Tenants[0].Groups = nil
	more.Tenants[0].Users = []SeedUser{{ID: uuid.New(), UPN: "seeded.later@" + ten.Domain, Password: "x"}}
	if err := f.sim.Apply(more); err != nil {
		t.Fatal(err)
	}
	changes, _ := f.deltaRound(tok, link)
	if len(changes) != 2 {
		t.Fatalf("%d changes, want 2: %v", len(changes), changes)
	}
	if d := changes[diego.ID.String()]; d["accountEnabled"] != false || len(d) != 2 {
		t.Fatalf("disabled user, with the round's $select: %v", d)
	}
	if _, ok := changes[more.Tenants[0].Users[0].ID.String()]; !ok {
		t.Fatalf("a user added by Apply is missing: %v", changes)
	}
}

func TestDeltaLatestReturnsOnlyALink(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	tok := f.appToken(ten)
	p := f.page(tok, "/v1.0/users/delta()?$deltatoken=latest")
	if len(p.Value) != 0 || p.DeltaLink == "" || p.NextLink != "" {
		t.Fatalf("latest: %+v", p)
	}
	if err := f.sim.RenameUser(ten.Users[1].ID, UserRename{UPN: "alex.renamed@" + ten.Domain}); err != nil {
		t.Fatal(err)
	}
	changes, _ := f.deltaRound(tok, p.DeltaLink)
	if len(changes) != 1 || changes[ten.Users[1].ID.String()]["userPrincipalName"] != "alex.renamed@"+ten.Domain {
		t.Fatalf("changes after latest: %v", changes)
	}
}

func TestDeltaFilterByIDIsKeptInTheTokens(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	tok := f.appToken(ten)
	adele, alex := ten.Users[0], ten.Users[1]
	filter := q("id eq '" + adele.ID.String() + "' or id eq '" + alex.ID.String() + "'")
	first, link := f.deltaRound(tok, "/v1.0/users/delta()?$select=displayName&$filter="+filter)
	got := make([]string, 0, len(first))
	for id, it := range first {
		got = append(got, id)
		if len(it) != 2 {
			t.Fatalf("$select=displayName gives id and displayName, got %v", it)
		}
	}
	sort.Strings(got)
	want := []string{adele.ID.String(), alex.ID.String()}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("filtered initial round %v, want %v", got, want)
	}
	for _, u := range []SeedUser{adele, ten.Users[2]} {
		if err := f.sim.RenameUser(u.ID, UserRename{DisplayName: "Changed " + u.DisplayName}); err != nil {
			t.Fatal(err)
		}
	}
	changes, _ := f.deltaRound(tok, link)
	if len(changes) != 1 || changes[adele.ID.String()]["displayName"] != "Changed "+adele.DisplayName {
		t.Fatalf("changes outside the filter leaked in: %v", changes)
	}
	wantGraphError(t, f.get(tok, "/v1.0/users/delta?$filter="+q("displayName eq 'x'")), http.StatusBadRequest, "Request_UnsupportedQuery", "id eq")
	wantGraphError(t, f.get(tok, "/v1.0/users/delta?$top=5"), http.StatusBadRequest, "Request_UnsupportedQuery", "$top")
}

func TestDeltaTokenExpiresAfterSevenDays(t *testing.T) {
	f := newFixture(t)
	tok := f.appToken(f.tenant())
	_, link := f.deltaRound(tok, "/v1.0/users/delta()")
	f.advance(6 * 24 * time.Hour)
	tok = f.appToken(f.tenant())
	if _, again := f.deltaRound(tok, link); again == "" {
		t.Fatal("a six-day-old token must still work")
	}
	f.advance(24*time.Hour + time.Minute)
	tok = f.appToken(f.tenant())
	wantGraphError(t, f.get(tok, link), http.StatusBadRequest, "syncStateNotFound",
		"The sync state generation is not found. The delta token is expired and data must be synchronized again.")
}

func TestDeltaRefusesGarbledAndForeignTokens(t *testing.T) {
	f := newFixture(t)
	tok := f.appToken(f.tenant())
	wantGraphError(t, f.get(tok, "/v1.0/users/delta?$deltatoken=garbage"), http.StatusBadRequest, "BadRequest", "token")
	wantGraphError(t, f.get(tok, "/v1.0/users/delta?$skiptoken=garbage"), http.StatusBadRequest, "BadRequest", "token")
	foreign := encodeToken(deltaToken{Tenant: f.seed.Tenants[1].ID, Kind: "d", Issued: f.clock()})
	wantGraphError(t, f.get(tok, "/v1.0/users/delta?$deltatoken="+foreign), http.StatusBadRequest, "BadRequest", "token")
	// A delta link given as a skip token (or the reverse) is refused too.
	_, link := f.deltaRound(tok, "/v1.0/users/delta()")
	wrong := strings.Replace(link, "$deltatoken=", "$skiptoken=", 1)
	wantGraphError(t, f.get(tok, wrong), http.StatusBadRequest, "BadRequest", "token")
}

func TestDeltaRestoredUserComesBack(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	tok := f.appToken(ten)
	_, link := f.deltaRound(tok, "/v1.0/users/delta()")
	u := ten.Users[0]
	if err := f.sim.DeleteUser(u.ID, false); err != nil {
		t.Fatal(err)
	}
	changes, link := f.deltaRound(tok, link)
	if removedReason(changes[u.ID.String()]) != "changed" {
		t.Fatalf("soft delete: %v", changes)
	}
	wantGraphError(t, f.get(tok, "/v1.0/users/"+u.ID.String()), http.StatusNotFound, "Request_ResourceNotFound", "")
	if err := f.sim.RestoreUser(u.ID); err != nil {
		t.Fatal(err)
	}
	changes, _ = f.deltaRound(tok, link)
	if it := changes[u.ID.String()]; it == nil || it["@removed"] != nil || it["userPrincipalName"] != u.UPN {
		t.Fatalf("restored user: %v", changes)
	}
}
