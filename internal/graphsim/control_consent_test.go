package graphsim

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// An administrator deletes our enterprise app (consent withdrawn): client
// credentials fail with AADSTS7000229 and a monitor's refresh with
// AADSTS65001; consent granted again, both work, the refresh token issued
// before included. A disabled service principal refuses both with
// AADSTS7000112 until enabled again.
func TestConsentWithdrawnRestoredAndServicePrincipalDisabled(t *testing.T) {
	f := newFixture(t)
	tid := f.tenant().ID.String()
	cc := &clientcredentials.Config{ClientID: f.seed.App.ClientID, ClientSecret: f.seed.App.ClientSecret, TokenURL: f.tokenURL(tid),
		Scopes: []string{"https://graph.microsoft.com/.default"}}
	cfg := f.oauthConfig(tid)
	m := f.monitor()
	signed, err := cfg.PasswordCredentialsToken(ctx(t), m.UPN, m.Password)
	if err != nil {
		t.Fatal(err)
	}
	refresh := func() error {
		_, err := cfg.TokenSource(ctx(t), &oauth2.Token{RefreshToken: signed.RefreshToken}).Token()
		return err
	}
	control := func(method, path, body string, want int) {
		t.Helper()
		req, _ := http.NewRequest(method, f.srv.URL+"/_sim/tenants/"+tid+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != want {
			t.Fatalf("%s %s: %v %v, want %d", method, path, resp, err, want)
		}
		resp.Body.Close()
	}
	grant := "/grants/" + f.seed.App.ClientID

	control(http.MethodDelete, grant, "", 204)
	_, err = cc.Token(ctx(t))
	requireAADError(t, err, 401, "invalid_client", 7000229)
	requireAADError(t, refresh(), 400, "invalid_grant", 65001)
	control(http.MethodDelete, grant, "", 404) // nothing left to withdraw

	control(http.MethodPost, grant+"/restore", "", 204)
	if _, err := cc.Token(ctx(t)); err != nil {
		t.Fatalf("client credentials after consent restored: %v", err)
	}
	if err := refresh(); err != nil {
		t.Fatalf("the refresh token issued before the withdrawal, after consent restored: %v", err)
	}
	control(http.MethodPost, grant+"/restore", "", 404)

	sp := "/servicePrincipals/" + f.seed.App.ClientID
	control(http.MethodPatch, sp, `{"accountEnabled": false}`, 204)
	_, err = cc.Token(ctx(t))
	requireAADError(t, err, 400, "unauthorized_client", 7000112)
	requireAADError(t, refresh(), 400, "unauthorized_client", 7000112)
	control(http.MethodPatch, sp, `{"accountEnabled": true}`, 204)
	if _, err := cc.Token(ctx(t)); err != nil {
		t.Fatalf("client credentials after the service principal is enabled again: %v", err)
	}
	control(http.MethodPatch, sp, `{}`, 400)
}
