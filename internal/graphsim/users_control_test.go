package graphsim

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/google/uuid"
)

// The directory control API over HTTP, checked through Graph.

func TestControlAddRenameDeleteRestoreUser(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	tok := f.appToken(ten)
	tenant := "/tenants/" + ten.ID.String()

	st, body := f.ctl(http.MethodPost, tenant+"/users", map[string]any{"upn": "grace@" + ten.Domain, "displayName": "Grace Hopper", "password": "pw"})
	if st != http.StatusCreated {
		t.Fatalf("add: %d %s", st, body)
	}
	var added SeedUser
	if err := json.Unmarshal(body, &added); err != nil || added.ID == uuid.Nil {
		t.Fatalf("added user %s", body)
	}
	if res := f.get(tok, "/v1.0/users/grace@"+ten.Domain); res.status != 200 {
		t.Fatalf("new user not visible: %d %s", res.status, res.body)
	}
	if st, _ := f.ctl(http.MethodPost, tenant+"/users", map[string]any{"upn": "grace@" + ten.Domain, "password": "pw"}); st != http.StatusConflict {
		t.Fatalf("duplicate UPN: %d", st)
	}
	if st, _ := f.ctl(http.MethodPost, tenant+"/users", map[string]any{"upn": "grace@elsewhere.example", "password": "pw"}); st != http.StatusConflict {
		t.Fatalf("foreign domain: %d", st)
	}
	if st, _ := f.ctl(http.MethodPost, "/tenants/"+uuid.NewString()+"/users", map[string]any{"upn": "x@y"}); st != http.StatusNotFound {
		t.Fatalf("unknown tenant: %d", st)
	}

	user := "/users/" + added.ID.String()
	if st, body := f.ctl(http.MethodPost, user+"/rename", map[string]any{"upn": "grace.h@" + ten.Domain}); st != 204 {
		t.Fatalf("rename: %d %s", st, body)
	}
	wantGraphError(t, f.get(tok, "/v1.0/users/grace@"+ten.Domain), http.StatusNotFound, "Request_ResourceNotFound", "")
	if res := f.get(tok, "/v1.0/users/grace.h@"+ten.Domain); res.status != 200 {
		t.Fatalf("renamed user: %d", res.status)
	}
	if st, _ := f.ctl(http.MethodPost, user+"/rename", map[string]any{"upn": ten.Users[0].UPN}); st != http.StatusConflict {
		t.Fatalf("rename onto a taken UPN: %d", st)
	}

	if st, _ := f.ctl(http.MethodDelete, user, nil); st != 204 {
		t.Fatalf("soft delete: %d", st)
	}
	wantGraphError(t, f.get(tok, "/v1.0/users/"+added.ID.String()), http.StatusNotFound, "Request_ResourceNotFound", "")
	if st, _ := f.ctl(http.MethodPost, user+"/restore", nil); st != 204 {
		t.Fatalf("restore: %d", st)
	}
	if res := f.get(tok, "/v1.0/users/"+added.ID.String()); res.status != 200 {
		t.Fatalf("restored user: %d", res.status)
	}
	if st, _ := f.ctl(http.MethodDelete, user+"?permanent=true", nil); st != 204 {
		t.Fatalf("hard delete: %d", st)
	}
	if st, _ := f.ctl(http.MethodPost, user+"/restore", nil); st != http.StatusNotFound {
		t.Fatalf("restoring a permanently deleted user: %d", st)
	}
	if st, _ := f.ctl(http.MethodDelete, user, nil); st != http.StatusNotFound {
		t.Fatalf("deleting twice: %d", st)
	}
}

func TestDeletedAccountCannotSignIn(t *testing.T) {
	f := newFixture(t)
	mon := f.monitor()
	if err := f.sim.DeleteUser(mon.ID, false); err != nil {
		t.Fatal(err)
	}
	cfg := f.oauthConfig(f.tenant().ID.String())
	cfg.Scopes = []string{"https://graph.microsoft.com/.default"}
	if _, err := cfg.PasswordCredentialsToken(ctx(t), mon.UPN, mon.Password); err == nil {
		t.Fatal("a deleted account signed in")
	}
}

func TestControlGroupsAndMembers(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	tenant := "/tenants/" + ten.ID.String()
	st, body := f.ctl(http.MethodPost, tenant+"/groups", map[string]any{"displayName": "Sales", "members": []string{ten.Users[0].UPN}})
	if st != http.StatusCreated {
		t.Fatalf("create group: %d %s", st, body)
	}
	var sales SeedGroup
	json.Unmarshal(body, &sales)
	st, body = f.ctl(http.MethodPost, tenant+"/groups", map[string]any{"displayName": "Company", "members": []string{"Sales", ten.Users[1].ID.String()}})
	if st != http.StatusCreated {
		t.Fatalf("create nested group: %d %s", st, body)
	}
	var company SeedGroup
	json.Unmarshal(body, &company)
	if !slices.Equal(company.Members, []string{sales.ID.String(), ten.Users[1].ID.String()}) {
		t.Fatalf("company members %v", company.Members)
	}
	if st, _ := f.ctl(http.MethodPost, "/groups/"+sales.ID.String()+"/members", map[string]any{"member": "Company"}); st != http.StatusConflict {
		t.Fatalf("a cycle must be refused: %d", st)
	}
	if st, _ := f.ctl(http.MethodPost, "/groups/"+sales.ID.String()+"/members", map[string]any{"member": ten.Users[2].UPN}); st != 204 {
		t.Fatalf("add member: %d", st)
	}
	if st, _ := f.ctl(http.MethodPost, "/groups/"+sales.ID.String()+"/members", map[string]any{"member": "nobody@" + ten.Domain}); st != http.StatusNotFound {
		t.Fatalf("unknown member: %d", st)
	}
	if st, _ := f.ctl(http.MethodDelete, "/groups/"+sales.ID.String()+"/members/"+ten.Users[0].ID.String(), nil); st != 204 {
		t.Fatalf("remove member: %d", st)
	}
	if st, _ := f.ctl(http.MethodDelete, "/groups/"+sales.ID.String()+"/members/"+ten.Users[0].ID.String(), nil); st != http.StatusNotFound {
		t.Fatalf("removing twice: %d", st)
	}
	if st, _ := f.ctl(http.MethodPost, tenant+"/groups", map[string]any{"displayName": "", "members": []string{}}); st != http.StatusConflict {
		t.Fatalf("nameless group: %d", st)
	}

	tok := f.appToken(ten)
	all, _, _ := f.followAll(tok, "/v1.0/groups/"+company.ID.String()+"/transitiveMembers")
	want := []string{sales.ID.String(), ten.Users[1].ID.String(), ten.Users[2].ID.String()}
	got := ids(all)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("transitive members %v, want %v", got, want)
	}

	st, body = f.ctl(http.MethodGet, tenant+"/groups", nil)
	var listed []SeedGroup
	if err := json.Unmarshal(body, &listed); st != 200 || err != nil {
		t.Fatalf("list groups: %d %s", st, body)
	}
	names := map[string]bool{}
	for _, g := range listed {
		names[g.DisplayName] = true
	}
	if !names["Sales"] || !names["Company"] {
		t.Fatalf("listed groups %s", body)
	}
}

func TestControlSetsAnAppsHomeTenant(t *testing.T) {
	f := newFixture(t)
	path := "/apps/" + f.seed.App.ClientID + "/home-tenant"
	if st, body := f.ctl(http.MethodPut, path, map[string]any{"tenantId": f.tenant().ID}); st != 204 {
		t.Fatalf("set home tenant: %d %s", st, body)
	}
	if st, _ := f.ctl(http.MethodPut, path, map[string]any{"tenantId": uuid.New()}); st != http.StatusNotFound {
		t.Fatalf("unknown tenant: %d", st)
	}
	if st, _ := f.ctl(http.MethodPut, "/apps/nope/home-tenant", map[string]any{"tenantId": f.tenant().ID}); st != http.StatusNotFound {
		t.Fatalf("unknown app: %d", st)
	}
}
