package enginetest

import (
	"testing"

	"github.com/google/uuid"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/identity"
	"presencebridge/internal/store"
)

// useOwnApp registers a customer's own app in graphsim, consents to it in
// the bridge's tenant and records it as onboarding does (tenant_apps): the
// engine then signs monitors in and subscribes with it.
func (b *bridge) useOwnApp() identity.App {
	b.t.Helper()
	own := graphsim.SeedApp{ClientID: uuid.NewString(), ClientSecret: "own~" + uuid.NewString(), DisplayName: "Contoso presence"}
	err := b.e.Sim.Apply(graphsim.Seed{App: own, Tenants: []graphsim.SeedTenant{{ID: b.ten.ID, Domain: b.ten.Domain, Consented: true}}})
	if err != nil {
		b.t.Fatal(err)
	}
	err = b.st.InTx(b.t.Context(), func(tx store.Tx) error {
		_, err := tx.PutTenantApp(b.t.Context(), store.TenantApp{TenantID: b.tenant, ClientID: uuid.MustParse(own.ClientID), AppTenantID: b.ten.ID},
			own.ClientSecret)
		return err
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return identity.App{ClientID: own.ClientID, ClientSecret: own.ClientSecret}
}

// TestAnOwnAppTenantsPresenceChangeArrivesByRichNotification: a tenant on
// its own app registration has its subscriptions made by that app, so
// Graph's validation tokens name that app as their audience, not ours.
// The processor must accept them for this tenant, and the change must
// arrive in real time — by the notification, not by the next repair
// (no runner pass follows the first).
func TestAnOwnAppTenantsPresenceChangeArrivesByRichNotification(t *testing.T) {
	b := newBridge(t, bridgeOptions{users: 30, monitors: 1, authorized: 1, pipeline: true, ownApp: true})
	w := b.worker(0, nil)
	if rep, ran, err := w.runner.Tenant(t.Context(), b.tenant); err != nil || !ran {
		t.Fatalf("first pass: %+v %v %v", rep, ran, err)
	}
	subs := b.ours()
	if len(subs) != 1 || subs[0].ApplicationID != b.app.ClientID {
		t.Fatalf("subscriptions at Graph = %+v, want one made by the tenant's own app %s", subs, b.app.ClientID)
	}

	u := b.ten.Users[17].ID
	if err := b.e.Sim.SetTeamsPresence(u, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the call in the presence table", func() bool {
		a, act := b.held(u)
		return a == "Busy" && act == "InACall"
	})
	if source := b.lastSource(u); source != "notification" {
		t.Errorf("the change came by %q, want the notification", source)
	}
}
