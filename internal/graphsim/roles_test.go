package graphsim

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// signInPerson signs upn in at the organizations authority asking only
// who they are, with extra authorize parameters, and returns the ID
// token's claims.
func signInPerson(t *testing.T, f *fixture, upn, password string, extra ...oauth2.AuthCodeOption) map[string]any {
	t.Helper()
	return signInPersonAt(t, f, "organizations", upn, password, extra...)
}

// signInPersonAt is signInPerson at the given authority (organizations,
// common, a tenant id or domain).
func signInPersonAt(t *testing.T, f *fixture, authority, upn, password string, extra ...oauth2.AuthCodeOption) map[string]any {
	t.Helper()
	cfg := f.oauthConfig(authority)
	cfg.Scopes = []string{"openid", "profile"}
	verifier := oauth2.GenerateVerifier()
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", "n-1")}, extra...)
	q := newBrowser(t).signIn(cfg.AuthCodeURL("st", opts...), upn, password)
	tok, err := cfg.Exchange(ctx(t), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, _ := tok.Extra("id_token").(string)
	return parse(t, idt, fetchKeys(t, f.srv.URL+"/organizations/discovery/v2.0/keys"), f.seed.App.ClientID)
}

func wids(claims map[string]any) []string {
	var out []string
	list, _ := claims["wids"].([]any)
	for _, x := range list {
		out = append(out, str(x))
	}
	return out
}

func TestIDTokensCarryWidsOnlyWhenTheRegistrationAsksForDirectoryRoles(t *testing.T) {
	f := newFixture(t)
	fresh := f.seed.Tenants[1] // not consented: signing in needs no admin consent
	admin := signInPerson(t, f, fresh.Admin.UPN, fresh.Admin.Password)
	if got := wids(admin); !slices.Equal(got, []string{RoleGlobalAdministrator}) || admin["nonce"] != "n-1" ||
		admin["iss"] != f.srv.URL+"/"+fresh.ID.String()+"/v2.0" {
		t.Errorf("the admin's ID token: wids %v, claims %v", got, admin)
	}
	if _, has := signInPerson(t, f, fresh.Users[0].UPN, fresh.Users[0].Password)["wids"]; has {
		t.Error("an account without directory roles has a wids claim")
	}

	// The control API assigns roles; a Cloud Application Administrator is
	// listed but may not grant consent to Graph's application permissions.
	b := newBrowser(t)
	req, _ := http.NewRequest(http.MethodPut, f.srv.URL+"/_sim/users/"+fresh.Users[0].ID.String()+"/roles",
		strings.NewReader(`{"roles": ["`+RoleCloudApplicationAdministrator+`"]}`))
	if resp, err := b.client.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT roles: %v %v", resp, err)
	}
	if got := wids(signInPerson(t, f, fresh.Users[0].UPN, fresh.Users[0].Password)); !slices.Equal(got, []string{RoleCloudApplicationAdministrator}) {
		t.Errorf("after the role was assigned, wids = %v", got)
	}
	consent := f.srv.URL + "/" + fresh.ID.String() + "/v2.0/adminconsent?" + url.Values{"client_id": {f.seed.App.ClientID},
		"scope": {"https://graph.microsoft.com/.default"}, "redirect_uri": {redirectURI}, "state": {"s"}}.Encode()
	_, _, reqID := b.open(consent)
	if q, body := b.post(f.srv.URL+"/"+fresh.ID.String()+"/v2.0/adminconsent", url.Values{"req": {reqID},
		"login": {fresh.Users[0].UPN}, "password": {fresh.Users[0].Password}, "action": {"signin"}}); q != nil || !strings.Contains(body, "AADSTS90094") {
		t.Errorf("a Cloud Application Administrator granted consent: %v", q)
	}

	// Without groupMembershipClaims, no wids for anyone.
	patch, _ := http.NewRequest(http.MethodPatch, f.srv.URL+"/_sim/apps/"+f.seed.App.ClientID, strings.NewReader(`{"groupMembershipClaims": "None"}`))
	if resp, err := b.client.Do(patch); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH app: %v %v", resp, err)
	}
	if _, has := signInPerson(t, f, fresh.Admin.UPN, fresh.Admin.Password)["wids"]; has {
		t.Error("wids emitted though the registration's groupMembershipClaims does not ask for directory roles")
	}
}

func TestMaxAgePutsTheSignInsAuthTimeInTheIDToken(t *testing.T) {
	f := newFixture(t)
	u := f.tenant().Users[0]
	if _, has := signInPerson(t, f, u.UPN, u.Password)["auth_time"]; has {
		t.Error("auth_time without max_age")
	}
	c := signInPerson(t, f, u.UPN, u.Password, oauth2.SetAuthURLParam("max_age", "0"), oauth2.SetAuthURLParam("prompt", "login"))
	at, _ := c["auth_time"].(float64)
	if int64(at) != f.clock().Unix() {
		t.Errorf("auth_time = %v, want the sign-in's time %d", c["auth_time"], f.clock().Unix())
	}
	cfg := f.oauthConfig("organizations")
	status, body, _ := newBrowser(t).open(cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("max_age", "soon")))
	if status == http.StatusOK && strings.Contains(body, `name="password"`) {
		t.Error("a max_age that is no number was accepted")
	}
}
