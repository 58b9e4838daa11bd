package graphsim

import (
	"testing"

	"github.com/google/uuid"
)

// TestValidationTokensNameTheAppThatMadeTheSubscription: a tenant may
// subscribe through its own app registration as well as ours, to the same
// notification URL. Graph sends one token per app and tenant whose items
// the POST carries, each with that app as its audience
// (docs/graph.md#validation-tokens).
func TestValidationTokensNameTheAppThatMadeTheSubscription(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t)
	ten := f.tenant()
	own := SeedApp{ClientID: uuid.NewString(), ClientSecret: "own~" + uuid.NewString(), DisplayName: "Contoso presence"}
	if err := f.sim.Apply(Seed{App: own, Tenants: []SeedTenant{{ID: ten.ID, Domain: ten.Domain, Consented: true}}}); err != nil {
		t.Fatal(err)
	}
	cfg := f.oauthConfig(ten.ID.String())
	cfg.ClientID, cfg.ClientSecret = own.ClientID, own.ClientSecret
	cfg.Scopes = []string{"https://graph.microsoft.com/.default", "offline_access"}
	tok, err := cfg.PasswordCredentialsToken(ctx(t), ten.Monitors[1].UPN, ten.Monitors[1].Password)
	if err != nil {
		t.Fatal(err)
	}
	users := bulkResource(ten.Users[0].ID, ten.Users[1].ID)
	ours := f.subscribe(f.userToken(ten, ten.Monitors[0]), f.subRequest(rc.URL, users, true))
	theirs := f.subscribe(tok.AccessToken, f.subRequest(rc.URL, users, true))
	if ours.ApplicationID != f.seed.App.ClientID || theirs.ApplicationID != own.ClientID {
		t.Fatalf("applicationId: ours %q, the own app's %q", ours.ApplicationID, theirs.ApplicationID)
	}
	// Changes made before the delivery loop runs share one POST.
	for _, u := range ten.Users[:2] {
		if err := f.sim.SetTeamsPresence(u.ID, "Away", "Away"); err != nil {
			t.Fatal(err)
		}
	}
	startNotifier(t, f)
	c := decodeCollection(t, rc.next(t).Body)
	if len(c.Value) != 4 || len(c.ValidationTokens) != 2 {
		t.Fatalf("%d notifications with %d tokens, want 4 with 2 (one per app and tenant)", len(c.Value), len(c.ValidationTokens))
	}
	audiences := map[string]bool{}
	for _, raw := range c.ValidationTokens {
		claims := verifyValidationToken(t, f, raw, ten.ID.String(), "")
		aud, _ := claims.GetAudience()
		for _, a := range aud {
			audiences[a] = true
		}
	}
	if len(audiences) != 2 || !audiences[f.seed.App.ClientID] || !audiences[own.ClientID] {
		t.Errorf("token audiences %v, want our app %s and the own app %s", audiences, f.seed.App.ClientID, own.ClientID)
	}
}
