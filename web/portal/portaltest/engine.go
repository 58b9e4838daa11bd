package portaltest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/certs"
	"presencebridge/internal/engine"
	"presencebridge/internal/graph"
	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/graphsim"
	"presencebridge/internal/identity"
	"presencebridge/internal/roster"
	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
	"presencebridge/internal/tokens"
)

// AuthorizeMonitor adds acct, an account of the seed's first tenant, as a
// presence monitor and signs it in at graphsim, as Authorize now does.
func (p *Portal) AuthorizeMonitor(t testing.TB, acct graphsim.SeedUser) store.Monitor {
	t.Helper()
	ctx := t.Context()
	m, err := p.Onboarding.AddMonitor(ctx, p.Tenant.ID, acct.UPN, "test")
	if err != nil {
		t.Fatal(err)
	}
	si, err := p.Onboarding.StartMonitorSignIn(ctx, p.Tenant.ID, m.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	q, err := graphsim.NewPerson().SignIn(ctx, si.URL, acct.UPN, acct.Password)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Onboarding.FinishMonitorSignIn(ctx, p.Tenant.ID, m.ID, q, si, "test"); err != nil {
		t.Fatal(err)
	}
	return m
}

// EnginePass runs the presence engine's pass over the portal's tenant as
// a worker does (cmd/presencebridge's newEngineRunner): the roster kept
// (a group read, its members looked up), the resolved users shared over
// the authorized monitors and subscribed to at graphsim, with a receiver
// of the test's as the notification URL.
func (p *Portal) EnginePass(t testing.TB) engine.Report {
	t.Helper()
	return p.EnginePassNotifying(t, testkit.NewNotificationReceiver(t).URL)
}

// EnginePassNotifying is EnginePass whose subscriptions send Graph's
// notifications, lifecycle ones too, to notifyURL: a test's own receiver
// and processor, for figures the processor records.
func (p *Portal) EnginePassNotifying(t testing.TB, notifyURL string) engine.Report {
	t.Helper()
	idc, err := identity.New(identity.Options{LoginURL: p.SimURL})
	if err != nil {
		t.Fatal(err)
	}
	vault := tokens.New(p.Store, idc, p.Onboarding.Credentials, nil)
	clients := engine.NewGraphClients(engine.ClientsOptions{Store: p.Store, Monitors: vault, Credentials: p.Onboarding.Credentials,
		AppTokens: idc, ClientID: p.Seed.App.ClientID,
		NewClient: func(token func(context.Context) (string, error)) (engine.Client, error) {
			return graph.New(graph.Options{BaseURL: p.SimURL + "/v1.0", Token: token})
		}})
	eng := engine.New(p.Store, certs.New(p.Store, nil), notifyURL, notifyURL, nil)
	rec := engine.NewReconciler(p.Store, eng, clients, graphapi.MaxPresenceIDs, nil)
	runner := engine.NewRunner(p.Store, rec, vault, engine.RunnerOptions{Roster: roster.New(p.Store), Directory: clients.Directory})
	rep, ran, err := runner.Tenant(t.Context(), p.Tenant.ID)
	if err != nil || !ran {
		t.Fatalf("engine pass: ran %v, %v", ran, err)
	}
	return rep
}

// PresenceChange records a change of user's presence as the processor
// does: the event, and a delivery for each webhook (dead while it is
// disabled).
func (p *Portal) PresenceChange(t testing.TB, user uuid.UUID, availability, activity, mapped string) {
	t.Helper()
	ctx := context.Background()
	err := p.Store.InTx(ctx, func(tx store.Tx) error {
		_, _, err := tx.ApplyPresence(ctx, store.PresenceChange{TenantID: p.Tenant.ID, UserID: user, Availability: availability,
			Activity: activity, MappedState: mapped, Source: "notification", ObservedAt: time.Now()})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
