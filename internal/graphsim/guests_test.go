package graphsim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
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

// A guest signs in with its own address: at the organizations authority
// that is its home organization's account; only the resource tenant's own
// authority gives a token of that tenant about the guest account, named by
// the home address, with idp naming the home organization. Nobody signs in
// with a guest's #EXT# UPN, and an account that is no guest of a tenant is
// refused at its authority with AADSTS50020.
func TestAGuestSignsInAtItsHomeOrganizationUnlessTheResourceTenantsAuthorityIsUsed(t *testing.T) {
	f := newFixture(t)
	res, homeTen := f.seed.Tenants[0], f.seed.Tenants[1]
	home := homeTen.Users[0]
	local, domain, _ := strings.Cut(home.UPN, "@")
	g, err := f.sim.AddUser(res.ID, SeedUser{UPN: local + "_" + domain + "#EXT#@" + res.Domain, Password: "unused", Guest: true})
	if err != nil {
		t.Fatal(err)
	}

	at := signInPersonAt(t, f, "organizations", home.UPN, home.Password)
	if at["tid"] != homeTen.ID.String() || at["oid"] != home.ID.String() || at["idp"] != nil {
		t.Errorf("at organizations: tid %v oid %v idp %v, want the home account %s of %s", at["tid"], at["oid"], at["idp"], home.ID, homeTen.ID)
	}

	at = signInPersonAt(t, f, res.ID.String(), home.UPN, home.Password)
	if at["tid"] != res.ID.String() || at["oid"] != g.ID.String() || at["preferred_username"] != home.UPN ||
		at["idp"] != "https://sts.windows.net/"+homeTen.ID.String()+"/" || at["iss"] != f.srv.URL+"/"+res.ID.String()+"/v2.0" {
		t.Errorf("at the resource tenant: %v, want the guest %s named %s with idp of %s", at, g.ID, home.UPN, homeTen.ID)
	}

	for _, c := range []struct{ authority, login, password, want string }{
		{"organizations", g.UPN, "unused", "AADSTS50034"},
		{res.ID.String(), g.UPN, "unused", "AADSTS50034"},
		{res.ID.String(), home.UPN, "unused", "AADSTS50126"}, // the home account's password counts
		{res.ID.String(), homeTen.Users[1].UPN, homeTen.Users[1].Password, "AADSTS50020"},
	} {
		cfg := f.oauthConfig(c.authority)
		cfg.Scopes = []string{"openid", "profile"}
		authURL := cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
		b := newBrowser(t)
		_, _, req := b.open(authURL)
		page, _ := url.Parse(authURL)
		page.RawQuery = ""
		q, body := b.post(page.String(), url.Values{"req": {req}, "login": {c.login}, "password": {c.password}, "action": {"signin"}})
		if q != nil || !strings.Contains(body, c.want) {
			t.Errorf("%s at %s: redirected %v, want the page to say %s\n%s", c.login, c.authority, q, c.want, body)
		}
	}
}
