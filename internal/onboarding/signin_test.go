package onboarding

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/identity"
	"presencebridge/internal/store"
)

// invitation creates an invitation and opens it, without signing in.
func (f *fixture) invitation() (Invitation, string) {
	f.t.Helper()
	_, link, err := f.svc.CreateInvite(context.Background(), "Contoso", "staff:ops@vendor.example", 0)
	if err != nil {
		f.t.Fatal(err)
	}
	tok := strings.TrimPrefix(link, base+"/onboarding/i/")
	inv, err := f.svc.Invitation(context.Background(), tok)
	if err != nil {
		f.t.Fatalf("Invitation: %v", err)
	}
	return inv, tok
}

// signedIn signs who in through graphsim's pages, as opening the
// invitation asks.
func (f *fixture) signedIn(who graphsim.SeedUser) identity.Identity {
	f.t.Helper()
	si, err := f.svc.SignIn("state-s")
	if err != nil {
		f.t.Fatal(err)
	}
	q, err := graphsim.NewPerson().SignIn(context.Background(), si.URL, who.UPN, who.Password)
	if err != nil {
		f.t.Fatal(err)
	}
	id, err := f.svc.FinishSignIn(context.Background(), q.Get("code"), si)
	if err != nil {
		f.t.Fatalf("FinishSignIn: %v", err)
	}
	return id
}

func (f *fixture) portalAdmins(tenantID uuid.UUID) []uuid.UUID {
	f.t.Helper()
	admins, err := f.st.PortalAdmins(context.Background(), tenantID)
	if err != nil {
		f.t.Fatal(err)
	}
	var ids []uuid.UUID
	for _, a := range admins {
		ids = append(ids, a.ObjectID)
	}
	return ids
}

func TestTheFirstAdministratorToSignInBindsTheInvitationAndBecomesItsFirstPortalAdmin(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	inv, _ := f.invitation()
	admin := f.signedIn(f.ten().Admin)
	if err := f.svc.Accept(ctx, inv, admin); err != nil {
		t.Fatalf("the administrator was refused: %v", err)
	}
	if got := f.portalAdmins(inv.TenantID); len(got) != 1 || got[0] != f.ten().Admin.ID {
		t.Errorf("portal admins = %v, want the administrator %s", got, f.ten().Admin.ID)
	}
	if err := f.svc.Accept(ctx, inv, f.signedIn(f.ten().Admin)); err != nil {
		t.Errorf("the same administrator coming back was refused: %v", err)
	}

	// Another administrator of the same tenant: refused, the link is bound.
	other := f.ten().Users[0]
	if err := f.sim.SetUserRoles(other.ID, []string{graphsim.RoleGlobalAdministrator}); err != nil {
		t.Fatal(err)
	}
	err := f.svc.Accept(ctx, inv, f.signedIn(other))
	wantProblem(t, err, "already in use by someone else")
	if !strings.Contains(err.Error(), f.ten().Admin.UPN) {
		t.Errorf("the refusal does not name who holds the invitation: %v", err)
	}
	if got := f.portalAdmins(inv.TenantID); len(got) != 1 {
		t.Errorf("a refused signer became a portal admin: %v", got)
	}
}

func TestANonAdministratorSignerIsRefusedAndBindsNothing(t *testing.T) {
	f := newFixture(t)
	inv, _ := f.invitation()
	for _, who := range []graphsim.SeedUser{f.ten().Users[0], f.ten().Monitors[0]} {
		wantProblem(t, f.svc.Accept(t.Context(), inv, f.signedIn(who)), "Sign in as an administrator")
	}
	// A Cloud Application Administrator cannot consent to Graph's
	// application permissions, so does not count either.
	if err := f.sim.SetUserRoles(f.ten().Users[1].ID, []string{graphsim.RoleCloudApplicationAdministrator}); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, f.svc.Accept(t.Context(), inv, f.signedIn(f.ten().Users[1])), "Sign in as an administrator")
	if got := f.portalAdmins(inv.TenantID); len(got) != 0 {
		t.Errorf("portal admins = %v after refusals", got)
	}
	if err := f.svc.Accept(t.Context(), inv, f.signedIn(f.ten().Admin)); err != nil {
		t.Errorf("the administrator after refused signers: %v", err)
	}
}

func TestASignerOfAnotherMicrosoftTenantThanTheFormNamesIsRefused(t *testing.T) {
	f := newFixture(t)
	inv, _ := f.invitation()
	if fe, err := f.svc.SaveForm(t.Context(), inv.TenantID, Form{Company: "Contoso", MicrosoftTenant: f.ten().Domain, AdminEmail: "it@contoso.example",
		TelephonyAccount: "a", Users: f.ten().Users[0].UPN, EventTarget: "stream"}, "admin"); err != nil || fe != nil {
		t.Fatalf("SaveForm: %v %v", fe, err)
	}
	wantProblem(t, f.svc.Accept(t.Context(), inv, f.signedIn(f.seed.Tenants[1].Admin)), "another Microsoft tenant than the form names")
	if err := f.svc.Accept(t.Context(), inv, f.signedIn(f.ten().Admin)); err != nil {
		t.Errorf("the form's tenant's administrator: %v", err)
	}
}

func TestAMicrosoftTenantConnectedToAnotherTenantIsRefusedAtSignInAndAtConsent(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	first := f.invited()
	f.consented(first) // Contoso's Microsoft tenant is now connected to `first`

	inv, _ := f.invitation()
	wantProblem(t, f.svc.Accept(ctx, inv, f.signedIn(f.ten().Admin)), "already connected")

	// Consent for the same Microsoft tenant from the second tenant (its
	// form naming it) is refused in words too, and leaves it unconnected.
	if fe, err := f.svc.SaveForm(ctx, inv.TenantID, Form{Company: "Contoso again", MicrosoftTenant: f.ten().Domain, AdminEmail: "it@contoso.example",
		TelephonyAccount: "a", Users: f.ten().Users[0].UPN, EventTarget: "stream"}, "admin"); err != nil || fe != nil {
		t.Fatalf("SaveForm: %v %v", fe, err)
	}
	u, err := f.svc.ConsentURL(ctx, inv.TenantID, "state-c2")
	if err != nil {
		t.Fatal(err)
	}
	q, err := graphsim.NewPerson().SignIn(ctx, u, f.ten().Admin.UPN, f.ten().Admin.Password)
	if err != nil {
		t.Fatal(err)
	}
	wantProblem(t, f.svc.FinishConsent(ctx, inv.TenantID, q, "admin"), "already connected")
	if second, _ := f.st.GetTenant(ctx, inv.TenantID); second.MSTenantID != nil {
		t.Errorf("the second tenant was connected to %s", second.MSTenantID)
	}
}

func TestAfterCompleteTheInvitationLinkOpensNothing(t *testing.T) {
	f := newFixture(t)
	inv, tok := f.invitation()
	if err := f.st.CompleteOnboarding(t.Context(), inv.TenantID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Invitation(t.Context(), tok); !errors.Is(err, ErrOnboardingDone) {
		t.Errorf("the link of a completed onboarding: %v, want ErrOnboardingDone", err)
	}
	if _, err := f.svc.OpenInvite(t.Context(), tok); !errors.Is(err, ErrOnboardingDone) {
		t.Errorf("OpenInvite of a completed onboarding: %v", err)
	}
}

func TestInvitationsLiveAtMostSevenDaysAndAreRevokedByLinkOrTenant(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if _, _, err := f.svc.CreateInvite(ctx, "Contoso", "staff:ops", MaxInviteTTL+time.Hour); err == nil {
		t.Error("an invitation longer than MaxInviteTTL was created")
	}
	_, link, err := f.svc.CreateInvite(ctx, "Contoso", "staff:ops", MaxInviteTTL)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.svc.RevokeInvite(ctx, link, "staff:ops"); err != nil || n != 1 {
		t.Fatalf("revoke by link: %d, %v", n, err)
	}
	if _, err := f.svc.Invitation(ctx, link[strings.LastIndex(link, "/")+1:]); !errors.Is(err, ErrLinkRevoked) {
		t.Errorf("a revoked link: %v", err)
	}
	inv, tok := f.invitation()
	if n, err := f.svc.RevokeInvite(ctx, inv.TenantID.String(), "staff:ops"); err != nil || n != 1 {
		t.Fatalf("revoke by tenant: %d, %v", n, err)
	}
	if _, err := f.svc.Invitation(ctx, tok); !errors.Is(err, ErrLinkRevoked) {
		t.Errorf("a link of a revoked tenant: %v", err)
	}
	if _, err := f.svc.RevokeInvite(ctx, uuid.NewString(), "staff:ops"); !errors.Is(err, store.ErrTenantNotFound) {
		t.Errorf("revoking an unknown tenant: %v", err)
	}
}
