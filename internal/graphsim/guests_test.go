package graphsim

import (
	"net/http"
	"net/url"
	"testing"
)

// A guest (B2B) account is found by its #EXT# UPN or, as Entra keeps its
// home address in mail, by $filter=mail; userType says Guest, members say
// Member.
func TestAGuestIsFoundByItsMailAndItsUserTypeSaysGuest(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	g, err := f.sim.AddUser(ten.ID, SeedUser{UPN: "pat_fabrikam.example#EXT#@" + ten.Domain, Password: "pw", Guest: true})
	if err != nil {
		t.Fatal(err)
	}
	tok := f.appToken(ten)
	var page struct{ Value []map[string]any }
	f.get(tok, "/v1.0/users?$select=userPrincipalName,mail,userType&$filter="+url.QueryEscape("mail eq 'pat@fabrikam.example'")).json(t, &page)
	if len(page.Value) != 1 || page.Value[0]["userType"] != "Guest" || page.Value[0]["userPrincipalName"] != g.UPN {
		t.Fatalf("guest by mail: %v", page.Value)
	}
	wantGraphError(t, f.get(tok, "/v1.0/users/pat@fabrikam.example"), http.StatusNotFound, "Request_ResourceNotFound", "pat@fabrikam.example")
	var member map[string]any
	f.get(tok, "/v1.0/users/"+ten.Users[0].UPN+"?$select=userType").json(t, &member)
	if member["userType"] != "Member" {
		t.Errorf("a member's userType: %v", member["userType"])
	}
}
