package onboarding

import (
	"net/http"
	"strings"
	"testing"

	"presencebridge/internal/graphsim"
)

func TestAnInvitationStartsWithAMicrosoftSignInAndShowsNothingBefore(t *testing.T) {
	f := newFixture(t)
	_, link, err := f.svc.CreateInvite(t.Context(), "Contoso", "staff:ops@vendor.example", 0)
	if err != nil {
		t.Fatal(err)
	}
	c := f.newClient()
	p := c.get(link)
	wantText(t, p, http.StatusOK, "Connect Contoso to Presence Bridge", "Global Administrator", "Sign in with Microsoft")
	if strings.Contains(p.body, `id="company"`) {
		t.Error("the form is shown before anyone signed in")
	}
	wantText(t, c.get("/onboarding"), http.StatusForbidden, "This browser has no onboarding in progress.")
	wantText(t, c.post("/onboarding/form", f.formValues()), http.StatusForbidden)
	c.signIn(link, f.ten().Admin)
	wantText(t, c.get("/onboarding"), http.StatusOK, "Connect Contoso to Presence Bridge", "Your details")
}

func TestANonAdministratorSignerIsRefusedAndGetsNoOnboarding(t *testing.T) {
	f := newFixture(t)
	_, link, err := f.svc.CreateInvite(t.Context(), "Contoso", "staff:ops@vendor.example", 0)
	if err != nil {
		t.Fatal(err)
	}
	c := f.newClient()
	wantText(t, c.signInPage(link, f.ten().Users[0]), http.StatusForbidden, "Sign in as an administrator", f.ten().Users[0].UPN)
	wantText(t, c.get("/onboarding"), http.StatusForbidden, "This browser has no onboarding in progress.")
	var admins int
	f.pool.QueryRow(t.Context(), `SELECT count(*) FROM portal_admins`).Scan(&admins)
	if admins != 0 {
		t.Errorf("%d portal admins after a refused sign-in", admins)
	}
}

func TestTheFirstAdministratorBindsTheInvitationAndAnotherIdentityIsRefused(t *testing.T) {
	f := newFixture(t)
	tenant, link, err := f.svc.CreateInvite(t.Context(), "Contoso", "staff:ops@vendor.example", 0)
	if err != nil {
		t.Fatal(err)
	}
	f.newClient().signIn(link, f.ten().Admin)
	var oid, upn string
	if err := f.pool.QueryRow(t.Context(), `SELECT object_id::text, upn FROM portal_admins WHERE tenant_id = $1`, tenant.ID).Scan(&oid, &upn); err != nil ||
		oid != f.ten().Admin.ID.String() || upn != f.ten().Admin.UPN {
		t.Fatalf("first portal admin = %s %s (%v), want the administrator", oid, upn, err)
	}
	other := f.ten().Users[0]
	if err := f.sim.SetUserRoles(other.ID, []string{graphsim.RoleGlobalAdministrator}); err != nil {
		t.Fatal(err)
	}
	c := f.newClient()
	wantText(t, c.signInPage(link, other), http.StatusForbidden, "already in use by someone else", f.ten().Admin.UPN)
	wantText(t, c.get("/onboarding"), http.StatusForbidden, "This browser has no onboarding in progress.")
}

func TestAfterCompleteTheInvitationLinkOpensNothingButPointsToThePortal(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	c.completed()
	p := f.newClient().get(c.lastInvite)
	wantText(t, p, http.StatusGone, "Onboarding is complete.", "/portal")
	if strings.Contains(p.body, "Sign in with Microsoft") || strings.Contains(p.body, `name="csrf"`) {
		t.Error("a completed onboarding's link still offers something to do")
	}
}
