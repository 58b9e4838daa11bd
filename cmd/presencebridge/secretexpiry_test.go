package main

import (
	"testing"
	"time"

	"presencebridge/internal/config"
	"presencebridge/internal/graphsim"
	"presencebridge/internal/identity"
)

// The own-app secret expiry reader reads Graph's /applications through the
// product's Graph client, with the app's own token.
func TestSecretExpiryReadsTheAppsSecretsFromGraph(t *testing.T) {
	sim := graphsim.New(graphsim.Options{})
	base, err := sim.Start(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seed := graphsim.GenerateSeed(1, 1, 0, 3)
	seed.App.Application = append(append([]string{}, graphsim.DefaultApplication...), "Application.ReadWrite.OwnedBy")
	if err := sim.Apply(seed); err != nil {
		t.Fatal(err)
	}
	id, _ := identity.New(identity.Options{LoginURL: base})
	at, err := id.AppTokenFor(t.Context(), identity.App{ClientID: seed.App.ClientID, ClientSecret: seed.App.ClientSecret}, seed.Tenants[0].ID.String())
	if err != nil {
		t.Fatal(err)
	}
	a := &app{cfg: &config.Config{GraphBaseURL: base}}
	creds, err := a.secretExpiry(t.Context(), at.AccessToken, seed.App.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if len(creds) != 1 || creds[0].Hint != seed.App.ClientSecret[:3] || time.Until(creds[0].Expires) < 300*24*time.Hour {
		t.Errorf("credentials = %+v", creds)
	}
}
