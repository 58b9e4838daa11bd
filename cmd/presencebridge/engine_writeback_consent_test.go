package main

import (
	"strings"
	"testing"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/identity"
	"presencebridge/internal/store"
)

// The acceptance for write-back consent: a tenant that consented
// before our registration listed Presence.ReadWrite.All is alerted within
// one pass ("re-consent needed for presence write-back", with the admin
// consent URL) and stays healthy and monitored, since reading presence
// does not need the permission; once its administrator consents again,
// the next pass resolves the alert.
func TestEngineAlertsATenantWithoutWriteBackConsentAndResolvesItOnceGranted(t *testing.T) {
	const redirect = "https://bridge.example.com/onboarding/consent/callback"
	// The registration as it was when the tenant consented.
	f := newHealthFixture(t, func(s *graphsim.Seed) {
		s.App.Application = []string{"User.Read.All", "Presence.Read.All", "GroupMember.Read.All"}
		s.App.RedirectURIs = []string{redirect}
	})
	if err := f.pass(); err != nil {
		t.Fatalf("first pass: %v", err)
	}
	if s := f.status(); s.Status != store.TenantActive || s.Health != store.HealthHealthy || s.Users.Monitored != len(f.ten.Users) {
		t.Fatalf("a tenant without write-back is not healthy and monitored: %+v", s)
	}
	if open, _ := f.alerts(store.AlertTenantAccess); len(open) != 0 {
		t.Fatalf("access alerts for a tenant that can read: %+v", open)
	}
	open, _ := f.alerts(store.AlertWriteBackConsent)
	if len(open) != 1 || open[0].Subject != identity.WriteBackRole {
		t.Fatalf("open write-back consent alerts: %+v", open)
	}
	first := open[0]
	for _, want := range []string{"Re-consent needed for presence write-back: grant Presence.ReadWrite.All",
		"reads presence as before", "Fix: a Global Administrator grants consent again at",
		"/" + f.ten.ID.String() + "/adminconsent?client_id=" + f.seed.App.ClientID} {
		if !strings.Contains(first.Message, want) {
			t.Errorf("alert %q lacks %q", first.Message, want)
		}
	}
	if first.Detail["missing"] != identity.WriteBackRole || first.Detail["client_id"] != f.seed.App.ClientID {
		t.Errorf("alert detail = %v", first.Detail)
	}

	// Our registration lists the permission now, but the tenant's consent
	// predates it: still alerted, one alert however many passes.
	if !f.sim.RequireApplicationPermission(f.seed.App.ClientID, identity.WriteBackRole) {
		t.Fatal("RequireApplicationPermission")
	}
	if err := f.pass(); err != nil {
		t.Fatalf("second pass: %v", err)
	}
	if open, _ := f.alerts(store.AlertWriteBackConsent); len(open) != 1 || open[0].ID != first.ID {
		t.Fatalf("open write-back consent alerts before re-consent: %+v", open)
	}

	// The administrator consents again, in the browser.
	idc, err := identity.New(identity.Options{LoginURL: f.sim.BaseURL()})
	if err != nil {
		t.Fatal(err)
	}
	u := idc.AdminConsentURL(identity.App{ClientID: f.seed.App.ClientID}, f.ten.ID.String(), redirect, "state-w")
	if q, err := graphsim.NewPerson().SignIn(t.Context(), u, f.ten.Admin.UPN, f.ten.Admin.Password); err != nil || !identity.ParseConsentCallback(q).Granted {
		t.Fatalf("re-consent: %v %v", q, err)
	}
	if err := f.pass(); err != nil {
		t.Fatalf("pass after re-consent: %v", err)
	}
	open, resolved := f.alerts(store.AlertWriteBackConsent)
	if len(open) != 0 || len(resolved) != 1 || resolved[0].ID != first.ID {
		t.Fatalf("write-back consent alerts after re-consent: %d open, %d resolved", len(open), len(resolved))
	}
	if s := f.status(); s.Status != store.TenantActive || s.Health != store.HealthHealthy {
		t.Fatalf("status after re-consent: %+v", s)
	}
}
