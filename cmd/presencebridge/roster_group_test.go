package main

import (
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/identity"
	"presencebridge/internal/links"
	"presencebridge/internal/onboarding"
	"presencebridge/internal/simadmin"
	"presencebridge/internal/store"
)

// A tenant completes onboarding choosing "the members of a Microsoft Entra
// group": the serve process's engine reads the group and subscribes to
// exactly its members' presence; a user of the tenant outside the group is
// not monitored.
func TestATenantOnboardedWithAnEntraGroupMonitorsExactlyTheGroupsMembers(t *testing.T) {
	ctx := t.Context()
	const product = "https://bridge.example.com"
	sim := graphsim.New(graphsim.Options{})
	gs := httptest.NewServer(sim.Handler())
	t.Cleanup(gs.Close)
	sim.SetBaseURL(gs.URL)
	go sim.Run(ctx)
	seed := graphsim.GenerateSeed(1, 5, 2, 43)
	seed.App.RedirectURIs = []string{product + "/onboarding/consent/callback", product + "/onboarding/monitors/callback"}
	seed.Tenants[0].Consented = false
	if err := sim.Apply(seed); err != nil {
		t.Fatal(err)
	}
	ten := seed.Tenants[0]
	members, outsiders := ten.Users[:3], ten.Users[3:]
	group, err := sim.CreateGroup(ten.ID, graphsim.SeedGroup{DisplayName: "Support agents",
		Members: []string{members[0].UPN, members[1].UPN, members[2].UPN}})
	if err != nil {
		t.Fatal(err)
	}

	dsn := freshDatabase(t, "group_roster")
	proc := startServe(t, dsn, gs.URL, seed.App)
	proc.waitReady(t, 30*time.Second)

	svc, _ := onboardingOn(t, dsn, gs.URL, product, seed.App)
	tenant := onboardWith(t, svc, ten, onboarding.Form{Company: "Contoso Ltd", MicrosoftTenant: ten.Domain,
		AdminEmail: "it@contoso.example", TelephonyAccount: "acct-42", UsersSource: "group", Group: group.ID.String(),
		EventTarget: "stream"})

	want := make([]string, len(members))
	for i, u := range members {
		want[i] = u.ID.String()
	}
	slices.Sort(want)
	var got []string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got = subscribedUsers(sim)
		if slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("presence subscriptions cover %v, want the group's members %v; output:\n%s", got, want, proc.log())
		}
	}
	for _, u := range outsiders {
		if slices.Contains(got, u.ID.String()) {
			t.Errorf("%s is not in the group but is monitored", u.UPN)
		}
	}
	st2, err := svc.Status(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	if st2.Users != len(members) || st2.UserCounts.Monitored != len(members) {
		t.Errorf("onboarding status: %d users, %d monitored, want %d of each", st2.Users, st2.UserCounts.Monitored, len(members))
	}
}

var objectIDRE = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// subscribedUsers lists, sorted, the user ids graphsim's presence
// subscriptions name in their resource (/communications/presences?$filter=id in (…)).
func subscribedUsers(sim *graphsim.Sim) []string {
	var ids []string
	for _, s := range sim.Subscriptions() {
		if strings.Contains(s.Resource, "presences") {
			for _, id := range objectIDRE.FindAllString(s.Resource, -1) {
				ids = append(ids, strings.ToLower(id))
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// onboardingOn is the onboarding service its pages call, on the serve
// process's database (dsn), signing in at graphsim (simURL); the pool is
// closed when the test ends.
func onboardingOn(t *testing.T, dsn, simURL, product string, app graphsim.SeedApp) (*onboarding.Service, *pgxpool.Pool) {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ring := serveRing(t)
	idc, _ := identity.New(identity.Options{LoginURL: simURL})
	return onboarding.New(store.New(pool, ring), idc, links.New(ring, nil), onboarding.Config{
		App:     identity.App{ClientID: app.ClientID, ClientSecret: app.ClientSecret},
		BaseURL: product, AllowLoopbackWebhooks: true,
	}), pool
}

// onboardWith is onboard with the form given: invitation, then form,
// consent, the seeded monitors signed in and done, as the tenant's
// administrator would (simadmin.Onboard, as dev's demo does).
func onboardWith(t *testing.T, svc *onboarding.Service, ten graphsim.SeedTenant, f onboarding.Form) uuid.UUID {
	t.Helper()
	ctx := t.Context()
	_, link, err := svc.CreateInvite(ctx, "Contoso", "staff:ops@vendor.example", 0)
	if err != nil {
		t.Fatal(err)
	}
	tenant, err := svc.OpenInvite(ctx, link[strings.LastIndex(link, "/")+1:])
	if err != nil {
		t.Fatal(err)
	}
	if err := simadmin.Onboard(ctx, svc, tenant, ten, f, false); err != nil {
		t.Fatalf("onboarding: %v", err)
	}
	return tenant
}
