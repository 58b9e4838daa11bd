package graph

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/graphsim"
)

func TestGetUserByIDAndByUPN(t *testing.T) {
	e := newEnv(t)
	c, rec := e.app()
	want := e.Tenant.Users[7]
	for _, key := range []string{want.ID.String(), want.UPN, strings.ToUpper(want.UPN)} {
		u, err := c.GetUser(t.Context(), key)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if u.ID != want.ID.String() || !strings.EqualFold(u.UPN, want.UPN) || u.DisplayName != want.DisplayName ||
			u.Mail == "" || !u.AccountEnabled {
			t.Errorf("%s: %+v", key, u)
		}
	}
	// The SDK percent-encodes the UPN's @ in the path.
	if reqs := rec.Requests("/users/" + strings.ReplaceAll(want.UPN, "@", "%40")); len(reqs) != 1 {
		t.Errorf("UPN request not percent-encoded: %+v", rec.Requests("/users/"))
	}
	_, err := c.GetUser(t.Context(), "nobody@"+e.Tenant.Domain)
	graphError(t, err, http.StatusNotFound, "Request_ResourceNotFound")
}

func TestDisabledUserReadsAsDisabled(t *testing.T) {
	e := newEnv(t)
	c, _ := e.app()
	su, err := e.Sim.AddUser(e.Tenant.ID, graphsim.SeedUser{UPN: "left.company@" + e.Tenant.Domain, Password: "x", Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.GetUser(t.Context(), su.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	if u.AccountEnabled {
		t.Errorf("disabled account reads %+v", u)
	}
}

func TestReadingUsersWithoutPermissionIsForbidden(t *testing.T) {
	e := newEnv(t)
	// The limited app's monitor token holds User.ReadBasic.All only through
	// consent for that app, so use an app token of an app with no user role.
	none := e.Limited
	none.ClientID, none.ClientSecret, none.Application = uuid.NewString(), "none~secret", []string{"Presence.Read.All"}
	if err := e.Sim.Apply(graphsim.Seed{App: none, Tenants: []graphsim.SeedTenant{{ID: e.Tenant.ID, Domain: e.Tenant.Domain, Consented: true}}}); err != nil {
		t.Fatal(err)
	}
	c, _ := e.client(e.AppTokens(none))
	_, err := c.GetUser(t.Context(), e.Tenant.Users[0].UPN)
	graphError(t, err, http.StatusForbidden, "Authorization_RequestDenied")
}

func TestFindUsersPagesThroughAbsoluteNextLinks(t *testing.T) {
	e := newEnv(t)
	c, rec := e.app()
	c.pageSize = 7
	got, err := c.FindUsers(t.Context(), "accountEnabled eq true")
	if err != nil {
		t.Fatal(err)
	}
	everyone := len(e.Tenant.Users) + len(e.Tenant.Monitors) + 1 // and the admin
	if len(got) != everyone {
		t.Errorf("found %d users, want %d", len(got), everyone)
	}
	seen := map[string]bool{}
	for _, u := range got {
		if seen[u.ID] {
			t.Errorf("user %s listed twice", u.ID)
		}
		seen[u.ID] = true
	}
	reqs := rec.Requests("/v1.0/users")
	if len(reqs) != (everyone+6)/7 {
		t.Errorf("%d requests for %d users in pages of 7", len(reqs), everyone)
	}
	for _, r := range reqs {
		if r.Header.Get("ConsistencyLevel") != "eventual" || r.Header.Get("Authorization") == "" {
			t.Errorf("page request %s lacks ConsistencyLevel or token", r.URL)
		}
	}
	byMail, err := c.FindUsers(t.Context(), "mail eq '"+e.Tenant.Users[3].UPN+"'")
	if err != nil || len(byMail) != 1 || byMail[0].ID != e.Tenant.Users[3].ID.String() {
		t.Errorf("by mail: %+v, %v", byMail, err)
	}
	_, err = c.FindUsers(t.Context(), "nosuchproperty eq 1")
	graphError(t, err, http.StatusBadRequest, "")
}

func TestResolveUsersBatchesUPNsAndFallsBackToMail(t *testing.T) {
	e := newEnv(t)
	c, rec := e.app()
	moved := e.Tenant.Users[10]
	if err := e.Sim.RenameUser(moved.ID, graphsim.UserRename{Mail: "moved.person@elsewhere.example"}); err != nil {
		t.Fatal(err)
	}
	var in []string
	for _, u := range e.Tenant.Users {
		in = append(in, u.UPN)
	}
	in = append(in, "moved.person@elsewhere.example", "ghost@"+e.Tenant.Domain, e.Tenant.Users[0].UPN /* twice */)
	found, failed := c.ResolveUsers(t.Context(), in)
	if len(found) != 31 || len(failed) != 1 {
		t.Fatalf("found %d, failed %d: %v", len(found), len(failed), failed)
	}
	for _, u := range e.Tenant.Users {
		if found[u.UPN].ID != u.ID.String() {
			t.Errorf("%s resolved to %+v", u.UPN, found[u.UPN])
		}
	}
	if found["moved.person@elsewhere.example"].ID != moved.ID.String() {
		t.Errorf("mail lookup: %+v", found["moved.person@elsewhere.example"])
	}
	if err := failed["ghost@"+e.Tenant.Domain]; !graphapi.IsNotFound(err) {
		t.Errorf("ghost: %v", err)
	}
	// 32 distinct inputs by UPN: one $batch of three filters (15, 15, 2);
	// then 2 by mail in one more.
	if n := len(rec.Requests("/$batch")); n != 2 {
		t.Errorf("$batch requests = %d, want 2", n)
	}
}

// A lookup names 15 users ($filter=userPrincipalName in (…), or id in (…)
// for object ids, Graph's default limit of or-ed values), so one $batch
// resolves 300 people where GET /users/{upn} steps resolved 20 (issue 16).
// Graph matches UPNs case-insensitively; people it does not find are left
// out of its answer and reported not found.
func TestResolveUsersLooksUpThreeHundredPeoplePerBatch(t *testing.T) {
	e := newEnv(t)
	c, rec := e.app()
	var in []string
	for i, u := range e.Tenant.Users {
		if i%2 == 0 {
			in = append(in, strings.ToUpper(u.UPN))
		} else {
			in = append(in, u.ID.String())
		}
	}
	for range 270 {
		in = append(in, uuid.NewString())
	}
	found, failed := c.ResolveUsers(t.Context(), in)
	if len(found) != 30 || len(failed) != 270 {
		t.Fatalf("found %d, failed %d", len(found), len(failed))
	}
	for i, u := range e.Tenant.Users {
		if got := found[in[i]]; got.ID != u.ID.String() || got.UPN != u.UPN || !got.AccountEnabled || got.DisplayName != u.DisplayName {
			t.Errorf("%s resolved to %+v", in[i], got)
		}
	}
	for id, err := range failed {
		if !graphapi.IsNotFound(err) {
			t.Errorf("%s: %v", id, err)
		}
	}
	if n := len(rec.Requests("/$batch")); n != 1 {
		t.Errorf("$batch requests = %d, want 1", n)
	}
}

// A lookup Graph refuses (400: here a $filter longer than it takes) is
// asked again a value at a time: one odd input fails alone, and the other
// 14 people in its lookup are still found.
func TestResolveUsersAsksARefusedLookupAValueAtATime(t *testing.T) {
	e := newEnv(t)
	c, _ := e.app()
	long := strings.Repeat("x", 4100) + "@" + e.Tenant.Domain
	in := []string{long}
	for _, u := range e.Tenant.Users[:14] {
		in = append(in, u.UPN)
	}
	found, failed := c.ResolveUsers(t.Context(), in)
	if len(found) != 14 || len(failed) != 1 {
		t.Fatalf("found %d, failed %v", len(found), failed)
	}
	graphError(t, failed[long], http.StatusBadRequest, "")
}

// Each step of a $batch is throttled on its own; the SDK does not retry
// inner 429s, so they come back with their own Retry-After — for every
// user the throttled step (a filter of 15 ids) named.
func TestResolveUsersReportsInnerThrottlingPerStep(t *testing.T) {
	e := newEnv(t)
	c, rec := e.app()
	e.Sim.AddThrottleFault(graphsim.ThrottleFault{AppID: e.Seed.App.ClientID, Class: "directory", RetryAfter: 9, Times: 1})
	var in []string
	for _, u := range e.Tenant.Users[:20] {
		in = append(in, u.ID.String())
	}
	found, failed := c.ResolveUsers(t.Context(), in)
	if len(found) != 5 || len(failed) != 15 {
		t.Fatalf("found %d, failed %v", len(found), failed)
	}
	for in, err := range failed {
		ge := graphError(t, err, http.StatusTooManyRequests, "TooManyRequests")
		if ge.RetryAfter != 9*time.Second || !graphapi.IsThrottled(err) {
			t.Errorf("%s: %+v", in, ge)
		}
	}
	if reqs := rec.Requests("/$batch"); len(reqs) != 1 || reqs[0].Status != http.StatusOK {
		t.Errorf("outer $batch: %+v", reqs)
	}
}

func TestGroupMembersFlattensNestedGroupsAcrossPages(t *testing.T) {
	e := newEnv(t)
	c, rec := e.app()
	c.pageSize = 8
	var all graphsim.SeedGroup
	for _, g := range e.Sim.Groups(e.Tenant.ID) {
		if g.DisplayName == graphsim.PresenceGroupName {
			all = g
		}
	}
	nested, err := e.Sim.CreateGroup(e.Tenant.ID, graphsim.SeedGroup{DisplayName: "Monitors", Members: []string{e.Tenant.Monitors[0].UPN}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Sim.AddGroupMember(all.ID, nested.ID.String()); err != nil {
		t.Fatal(err)
	}
	got, err := c.GroupMembers(t.Context(), all.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{e.Tenant.Monitors[0].ID.String(): true}
	for _, u := range e.Tenant.Users {
		want[u.ID.String()] = true
	}
	if len(got) != len(want) {
		t.Errorf("got %d members, want %d", len(got), len(want))
	}
	for _, u := range got {
		if !want[u.ID] || u.UPN == "" {
			t.Errorf("unexpected member %+v", u)
		}
	}
	if n := len(rec.Requests("/transitiveMembers")); n < 4 {
		t.Errorf("%d page requests for %d members in pages of 8", n, len(got))
	}
	_, err = c.GroupMembers(t.Context(), uuid.NewString())
	graphError(t, err, http.StatusNotFound, "")
}

func TestUsersDeltaPagesThenReportsChangesAndRemovals(t *testing.T) {
	e := newEnv(t)
	c, _ := e.app()
	c.pageSize = 10
	round := func(link string) (users []graphapi.User, removed []graphapi.RemovedUser, deltaLink string, pages int) {
		t.Helper()
		for {
			p, err := c.UsersDelta(t.Context(), link)
			if err != nil {
				t.Fatalf("delta page %d: %v", pages, err)
			}
			pages++
			users, removed = append(users, p.Users...), append(removed, p.Removed...)
			if (p.NextLink == "") == (p.DeltaLink == "") {
				t.Fatalf("page has nextLink %q and deltaLink %q", p.NextLink, p.DeltaLink)
			}
			if p.DeltaLink != "" {
				return users, removed, p.DeltaLink, pages
			}
			link = p.NextLink
		}
	}
	users, removed, link, pages := round("")
	everyone := len(e.Tenant.Users) + len(e.Tenant.Monitors) + 1
	if len(users) != everyone || len(removed) != 0 || pages < 4 {
		t.Errorf("initial round: %d users, %d removed, %d pages", len(users), len(removed), pages)
	}

	renamed, soft, hard := e.Tenant.Users[0], e.Tenant.Users[1], e.Tenant.Users[2]
	if err := e.Sim.RenameUser(renamed.ID, graphsim.UserRename{DisplayName: "Renamed Person"}); err != nil {
		t.Fatal(err)
	}
	if err := e.Sim.DeleteUser(soft.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := e.Sim.DeleteUser(hard.ID, true); err != nil {
		t.Fatal(err)
	}
	users, removed, _, _ = round(link)
	if len(users) != 1 || users[0].ID != renamed.ID.String() || users[0].DisplayName != "Renamed Person" {
		t.Errorf("changed users: %+v", users)
	}
	reasons := map[string]string{}
	for _, r := range removed {
		reasons[r.ID] = r.Reason
	}
	if len(removed) != 2 || reasons[soft.ID.String()] != "changed" || reasons[hard.ID.String()] != "deleted" {
		t.Errorf("removed: %+v", removed)
	}
	_, err := c.UsersDelta(t.Context(), e.Base+"/v1.0/users/delta()?$deltatoken=garbled")
	graphError(t, err, http.StatusBadRequest, "")
}

func TestAppSecretsShowHintAndExpiry(t *testing.T) {
	e := newEnv(t)
	c, _ := e.app()
	secrets, err := c.AppSecrets(t.Context(), e.Seed.App.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if len(secrets) != 1 {
		t.Fatalf("secrets: %+v", secrets)
	}
	s := secrets[0]
	if _, err := uuid.Parse(s.KeyID); err != nil || s.Hint != e.Seed.App.ClientSecret[:3] ||
		s.Expires.Before(time.Now().AddDate(1, 11, 0)) || s.Expires.After(time.Now().AddDate(2, 0, 1)) {
		t.Errorf("secret: %+v", s)
	}
	// An empty list from Graph: not found, without a request of its own.
	if _, err = c.AppSecrets(t.Context(), uuid.NewString()); !graphapi.IsNotFound(err) {
		t.Errorf("unknown app: %v", err)
	}
	limited, _ := e.client(e.AppTokens(e.Limited))
	_, err = limited.AppSecrets(t.Context(), e.Seed.App.ClientID)
	graphError(t, err, http.StatusForbidden, "")
}

// Directory delta tokens live 7 days; after that Graph answers
// syncStateNotFound and the round starts again from an empty link.
func TestUsersDeltaTokenExpiresAfterSevenDays(t *testing.T) {
	e := newEnv(t)
	c, _ := e.app()
	p, err := c.UsersDelta(t.Context(), "")
	for err == nil && p.NextLink != "" {
		p, err = c.UsersDelta(t.Context(), p.NextLink)
	}
	if err != nil || p.DeltaLink == "" {
		t.Fatalf("initial round: %+v, %v", p, err)
	}
	e.Advance(8 * 24 * time.Hour)
	c, _ = e.app() // a token issued at the Sim's new time
	_, err = c.UsersDelta(t.Context(), p.DeltaLink)
	graphError(t, err, http.StatusBadRequest, "syncStateNotFound")
	if p, err = c.UsersDelta(t.Context(), ""); err != nil || len(p.Users) == 0 {
		t.Errorf("new round: %+v, %v", p, err)
	}
}

// When the $batch request itself is throttled, every lookup in it fails
// with the outer answer's Retry-After; other batches are unaffected. A
// batch holds 300 lookups (20 filters of 15): the first 300 here are
// people not in the directory, the 25 after them are.
func TestResolveUsersOuterThrottlingFailsThatBatchOnly(t *testing.T) {
	e := newEnv(t)
	c, _ := e.app()
	e.Sim.AddThrottleFault(graphsim.ThrottleFault{AppID: e.Seed.App.ClientID, Class: "global", RetryAfter: 4, Times: 1})
	var in []string
	for i := range 300 {
		in = append(in, fmt.Sprintf("nobody%d@%s", i, e.Tenant.Domain))
	}
	for _, u := range e.Tenant.Users[:25] {
		in = append(in, u.UPN)
	}
	found, failed := c.ResolveUsers(t.Context(), in)
	if len(failed) != 300 || len(found) != 25 {
		t.Fatalf("found %d, failed %d", len(found), len(failed))
	}
	for _, err := range failed {
		if ge := graphError(t, err, http.StatusTooManyRequests, ""); ge.RetryAfter != 4*time.Second {
			t.Errorf("outer throttling: %+v", ge)
		}
	}
}
