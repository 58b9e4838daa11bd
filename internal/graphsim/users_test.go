package graphsim

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestGetUserResolvesIDUPNEncodedUPNAndKeyForm(t *testing.T) {
	f := newFixture(t)
	tok := f.appToken(f.tenant())
	adele := f.tenant().Users[0]
	for _, path := range []string{
		"/v1.0/users/" + adele.ID.String(),
		"/v1.0/users/" + adele.UPN,
		"/v1.0/users/" + strings.ReplaceAll(adele.UPN, "@", "%40"), // as msgraph-sdk-go sends it
		"/v1.0/users('" + adele.UPN + "')",
		"/v1.0/users(%27" + adele.UPN + "%27)",
		"/v1.0/users/" + strings.ToUpper(adele.UPN),
	} {
		res := f.get(tok, path)
		if res.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, res.status, res.body)
		}
		var u map[string]any
		res.json(t, &u)
		if u["id"] != adele.ID.String() || u["userPrincipalName"] != adele.UPN || u["displayName"] != adele.DisplayName {
			t.Fatalf("GET %s returned %v", path, u)
		}
		if u["@odata.context"] != f.srv.URL+"/v1.0/$metadata#users/$entity" {
			t.Fatalf("context %v", u["@odata.context"])
		}
		for _, p := range defaultUserProps {
			if _, ok := u[p]; !ok {
				t.Fatalf("default property %s missing: %v", p, u)
			}
		}
		if _, ok := u["accountEnabled"]; ok {
			t.Fatalf("accountEnabled is not a default property: %v", u)
		}
	}
}

func TestGetUserSelectReturnsOnlyTheSelectedProperties(t *testing.T) {
	f := newFixture(t)
	adele := f.tenant().Users[0]
	res := f.get(f.appToken(f.tenant()), "/v1.0/users/"+adele.ID.String()+"?$select=accountEnabled,displayName")
	var u map[string]any
	res.json(t, &u)
	keys := make([]string, 0, len(u))
	for k := range u {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if want := []string{"@odata.context", "accountEnabled", "displayName", "id"}; !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	if u["accountEnabled"] != true {
		t.Fatalf("accountEnabled %v", u["accountEnabled"])
	}
	if u["@odata.context"] != f.srv.URL+"/v1.0/$metadata#users(accountEnabled,displayName)/$entity" {
		t.Fatalf("context %v", u["@odata.context"])
	}
	wantGraphError(t, f.get(f.appToken(f.tenant()), "/v1.0/users/"+adele.ID.String()+"?$select=shoeSize"),
		http.StatusBadRequest, "BadRequest", "shoeSize")
}

func TestUsersOfAnotherTenantAreNotFound(t *testing.T) {
	f := newFixture(t)
	other := f.seed.Tenants[1].Users[0]
	tok := f.appToken(f.tenant())
	for _, path := range []string{"/v1.0/users/" + other.ID.String(), "/v1.0/users/" + other.UPN} {
		wantGraphError(t, f.get(tok, path), http.StatusNotFound, "Request_ResourceNotFound", "does not exist")
	}
	p := f.page(tok, "/v1.0/users?$filter="+q("userPrincipalName eq '"+other.UPN+"'"))
	if len(p.Value) != 0 {
		t.Fatalf("another tenant's user is listed: %v", p.Value)
	}
}

func TestMeIsTheSignedInUserAndRefusedForApps(t *testing.T) {
	f := newFixture(t)
	mon := f.monitor()
	res := f.get(f.userToken(f.tenant(), mon), "/v1.0/me?$select=id,userPrincipalName")
	var u map[string]any
	res.json(t, &u)
	if res.status != 200 || u["id"] != mon.ID.String() || u["userPrincipalName"] != mon.UPN {
		t.Fatalf("/me: %d %s", res.status, res.body)
	}
	wantGraphError(t, f.get(f.appToken(f.tenant()), "/v1.0/me"), http.StatusBadRequest, "BadRequest", "delegated")
}

func TestReadingUsersWithoutPermissionIsDenied(t *testing.T) {
	f := newFixtureWith(t, func(s *Seed) { s.App.Application = []string{"Presence.Read.All"} })
	tok := f.appToken(f.tenant())
	adele := f.tenant().Users[0]
	for _, path := range []string{"/v1.0/users", "/v1.0/users/" + adele.ID.String(), "/v1.0/users/delta()"} {
		wantGraphError(t, f.get(tok, path), http.StatusForbidden, "Authorization_RequestDenied",
			"Insufficient privileges to complete the operation.")
	}
}

func TestListUsersFilter(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	adele, alex, diego := ten.Users[0], ten.Users[1], ten.Users[2]
	if st, body := f.ctl(http.MethodPatch, "/users/"+diego.ID.String(), map[string]any{"enabled": false}); st != 204 {
		t.Fatalf("disable: %d %s", st, body)
	}
	tok := f.appToken(ten)
	everyone := []string{}
	for _, u := range allUsers(ten) {
		everyone = append(everyone, u.ID.String())
	}
	cases := []struct {
		filter string
		want   []string
	}{
		{"userPrincipalName eq '" + strings.ToUpper(adele.UPN) + "'", []string{adele.ID.String()}},
		{"mail eq '" + alex.UPN + "'", []string{alex.ID.String()}},
		{"id eq '" + diego.ID.String() + "'", []string{diego.ID.String()}},
		{"id in ('" + adele.ID.String() + "', '" + alex.ID.String() + "')", []string{adele.ID.String(), alex.ID.String()}},
		{"startswith(displayName,'" + adele.DisplayName[:3] + "')", []string{adele.ID.String()}},
		{"accountEnabled eq false", []string{diego.ID.String()}},
		{"accountEnabled eq false or id eq '" + adele.ID.String() + "'", []string{adele.ID.String(), diego.ID.String()}},
		{"accountEnabled eq true and (startswith(displayName,'" + alex.DisplayName[:4] + "') or mail eq '" + diego.UPN + "')", []string{alex.ID.String()}},
		{"startswith(userPrincipalName,'')", everyone},
	}
	for _, c := range cases {
		t.Run(c.filter, func(t *testing.T) {
			items, _, _ := f.followAll(tok, "/v1.0/users?$filter="+q(c.filter))
			got := ids(items)
			sort.Strings(got)
			want := slices.Clone(c.want)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

func TestListUsersRefusesMalformedAndUnsupportedFilters(t *testing.T) {
	f := newFixture(t)
	tok := f.appToken(f.tenant())
	var sixteen []string
	for i := range 16 {
		sixteen = append(sixteen, fmt.Sprintf("'u%d@contoso-1.example'", i))
	}
	cases := []struct {
		filter, code, msg string
	}{
		{"userPrincipalName eq", "BadRequest", "Invalid filter clause"},
		{"(id eq 'x'", "BadRequest", "Invalid filter clause"},
		{"id eq 'x')", "BadRequest", "Invalid filter clause"},
		{"id eq 'unterminated", "BadRequest", "Invalid filter clause"},
		{"startswith(displayName)", "BadRequest", "Invalid filter clause"},
		{"id == 'x'", "BadRequest", "Invalid filter clause"},
		{"", "BadRequest", "Invalid filter clause"},
		{"shoeSize eq '42'", "BadRequest", "shoeSize"},
		{"accountEnabled eq 'yes'", "BadRequest", "incompatible types"},
		{"displayName eq true", "BadRequest", "incompatible types"},
		{"displayName ne 'x'", "Request_UnsupportedQuery", "ConsistencyLevel"},
		{"not (accountEnabled eq true)", "Request_UnsupportedQuery", "ConsistencyLevel"},
		{"endswith(mail,'.example')", "Request_UnsupportedQuery", "ConsistencyLevel"},
		{"contains(mail,'x')", "Request_UnsupportedQuery", "contains"},
		{"displayName gt 'a'", "Request_UnsupportedQuery", "displayName"},
		{"userPrincipalName in (" + strings.Join(sixteen, ",") + ")", "Request_UnsupportedQuery", "Max allowed: 15"},
	}
	for _, c := range cases {
		t.Run(c.filter, func(t *testing.T) {
			wantGraphError(t, f.get(tok, "/v1.0/users?$filter="+q(c.filter)), http.StatusBadRequest, c.code, c.msg)
		})
	}
}

func TestAdvancedQueriesAllowNeEndswithAndLongInLists(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	tok := f.appToken(ten)
	adele := ten.Users[0]
	eventual := []string{"ConsistencyLevel", "eventual"}
	p := f.page(tok, "/v1.0/users?$count=true&$filter="+q("userPrincipalName ne '"+adele.UPN+"'"), eventual...)
	if p.Count == nil || *p.Count != len(allUsers(ten))-1 || len(p.Value) != *p.Count {
		t.Fatalf("ne: count %v, %d items", p.Count, len(p.Value))
	}
	p = f.page(tok, "/v1.0/users?$count=true&$filter="+q("endswith(userPrincipalName,'"+adele.UPN[3:]+"')"), eventual...)
	if len(p.Value) != 1 || p.Value[0]["id"] != adele.ID.String() {
		t.Fatalf("endswith: %v", p.Value)
	}
	var many []string
	for i := range 20 {
		many = append(many, fmt.Sprintf("'u%d@x'", i))
	}
	many = append(many, "'"+adele.UPN+"'")
	p = f.page(tok, "/v1.0/users?$count=true&$filter="+q("userPrincipalName in ("+strings.Join(many, ",")+")"), eventual...)
	if len(p.Value) != 1 {
		t.Fatalf("long in list: %v", p.Value)
	}
}

// A filter naming users by UPN or id is answered from the tenant's maps
// (usersNamedBy), not by testing every user; its answer must be the one a
// scan gives: case-insensitive, absent names left out, in a listing's
// order, paged alike.
func TestAnInListOfUPNsAnswersAsAScanWouldAcrossPages(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	tok := f.appToken(ten)
	users := allUsers(ten) // six
	var upns, idList []string
	for i, u := range users {
		name := u.UPN
		if i%2 == 0 {
			name = strings.ToUpper(name)
		}
		upns = append(upns, "'"+name+"'")
		idList = append(idList, "'"+u.ID.String()+"'")
	}
	upns = append(upns, "'ghost@"+ten.Domain+"'", "'"+users[0].UPN+"'")
	idList = append(idList, "'"+uuid.NewString()+"'")
	var want []string
	for _, u := range users {
		want = append(want, u.ID.String())
	}
	sort.Strings(want) // a listing's order: by object id
	for _, filter := range []string{"userPrincipalName in (" + strings.Join(upns, ",") + ")", "id in (" + strings.Join(idList, ",") + ")",
		"startswith(userPrincipalName,'') and userPrincipalName in (" + strings.Join(upns, ",") + ")"} { // the last one scans
		items, _, pages := f.followAll(tok, "/v1.0/users?$top=2&$filter="+q(filter))
		if got := ids(items); !slices.Equal(got, want) || pages != 3 {
			t.Errorf("%.40s…: %d pages of %v, want 3 of %v", filter, pages, got, want)
		}
	}
}

func TestListUsersTopBounds(t *testing.T) {
	f := newFixture(t)
	tok := f.appToken(f.tenant())
	for _, top := range []string{"1000", "0", "-1"} {
		wantGraphError(t, f.get(tok, "/v1.0/users?$top="+top), http.StatusBadRequest, "Request_BadRequest",
			"Invalid page size specified: '"+top+"'. Must be between 1 and 999 inclusive.")
	}
	wantGraphError(t, f.get(tok, "/v1.0/users?$top=ten"), http.StatusBadRequest, "BadRequest", "$top")
	if p := f.page(tok, "/v1.0/users?$top=999"); len(p.Value) != len(allUsers(f.tenant())) || p.NextLink != "" {
		t.Fatalf("$top=999: %d items, nextLink %q", len(p.Value), p.NextLink)
	}
}

func TestCountNeedsConsistencyLevelEventual(t *testing.T) {
	f := newFixture(t)
	tok := f.appToken(f.tenant())
	wantGraphError(t, f.get(tok, "/v1.0/users?$count=true"), http.StatusBadRequest, "Request_BadRequest",
		"$count is not currently supported.")
	p := f.page(tok, "/v1.0/users?$count=true&$top=2", "ConsistencyLevel", "eventual")
	if p.Count == nil || *p.Count != len(allUsers(f.tenant())) {
		t.Fatalf("@odata.count %v, want %d", p.Count, len(allUsers(f.tenant())))
	}
	// The header is not carried to the next page: the client must resend it.
	wantGraphError(t, f.get(tok, p.NextLink), http.StatusBadRequest, "Request_BadRequest", "$count")
	next := f.page(tok, p.NextLink, "ConsistencyLevel", "eventual")
	if next.Count != nil {
		t.Fatalf("@odata.count on a later page: %d", *next.Count)
	}
}

func TestListUsersPagesThroughAbsoluteNextLinks(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	tok := f.appToken(ten)
	items, last, pages := f.followAll(tok, "/v1.0/users?$top=2&$select=id,displayName")
	if want := (len(allUsers(ten)) + 1) / 2; pages != want {
		t.Fatalf("%d pages, want %d", pages, want)
	}
	got := ids(items)
	sort.Strings(got)
	var want []string
	for _, u := range allUsers(ten) {
		want = append(want, u.ID.String())
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("paged ids %v, want %v", got, want)
	}
	if last.Context != f.srv.URL+"/v1.0/$metadata#users(id,displayName)" {
		t.Fatalf("context %q", last.Context)
	}
	for _, it := range items {
		if len(it) != 2 {
			t.Fatalf("$select not kept across pages: %v", it)
		}
	}
}

func TestListUsersRefusesForeignOrGarbledSkipTokens(t *testing.T) {
	f := newFixture(t)
	tok := f.appToken(f.tenant())
	wantGraphError(t, f.get(tok, "/v1.0/users?$skiptoken=not-a-token"), http.StatusBadRequest, "Directory_ExpiredPageToken", "")
	other := encodeToken(pageToken{Tenant: f.seed.Tenants[1].ID, After: f.seed.Tenants[1].Users[0].ID.String()})
	wantGraphError(t, f.get(tok, "/v1.0/users?$skiptoken="+other), http.StatusBadRequest, "Directory_ExpiredPageToken", "")
}

func TestDelegatedUserReadsColleaguesWithUserReadBasicAll(t *testing.T) {
	f := newFixture(t)
	tok := f.userToken(f.tenant(), f.monitor())
	p := f.page(tok, "/v1.0/users?$select=id,userPrincipalName")
	if len(p.Value) != len(allUsers(f.tenant())) {
		t.Fatalf("%d users, want %d", len(p.Value), len(allUsers(f.tenant())))
	}
}
