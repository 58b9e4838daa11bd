package main

import (
	"net/url"
	"strings"
	"testing"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/identity"
	"presencebridge/internal/onboarding"
	"presencebridge/internal/store"
)

// The acceptance for write-back consent: a tenant that consented
// before our registration listed Presence.ReadWrite.All is alerted within
// one pass ("re-consent needed for presence write-back", with the admin
// consent URL) and stays healthy and monitored, since reading presence
// does not need the permission; once its administrator consents again at
// the alert's link, the next pass resolves the alert. (Shown to fail with
// the link the engine built by hand before, Microsoft's older
// /{tenant}/adminconsent?client_id=…, which graphsim does not serve, as
// the product's onboarding never uses it.)
func TestEngineAlertsATenantWithoutWriteBackConsentAndResolvesItOnceGrantedAtItsLink(t *testing.T) {
	// The registration as it was when the tenant consented, with the
	// product's callbacks registered as in production.
	f := newHealthFixture(t, func(s *graphsim.Seed) {
		s.App.Application = []string{"User.Read.All", "Presence.Read.All", "GroupMember.Read.All"}
	})
	if err := f.sim.Apply(graphsim.Seed{App: graphsim.SeedApp{ClientID: f.seed.App.ClientID,
		RedirectURIs: []string{f.base + "/onboarding/consent/callback", f.base + "/onboarding/monitors/callback"}}}); err != nil {
		t.Fatal(err)
	}
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
		"/" + f.ten.ID.String() + "/v2.0/adminconsent?client_id=" + f.seed.App.ClientID} {
		if !strings.Contains(first.Message, want) {
			t.Errorf("alert %q lacks %q", first.Message, want)
		}
	}
	link, _ := first.Detail["consent_url"].(string)
	if first.Detail["missing"] != identity.WriteBackRole || first.Detail["client_id"] != f.seed.App.ClientID || !strings.Contains(first.Message, link) {
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

	// The administrator opens the alert's link in a browser and consents
	// again; Microsoft sends the browser back to the product's callback,
	// which records nothing from it (onboarding.Reconsented).
	if u, err := url.Parse(link); err != nil || u.Query().Get("redirect_uri") != f.base+"/onboarding/consent/callback" {
		t.Errorf("the alert's link %s does not return to the product's consent callback", link)
	}
	q, err := graphsim.NewPerson().SignIn(t.Context(), link, f.ten.Admin.UPN, f.ten.Admin.Password)
	if err != nil || !identity.ParseConsentCallback(q).Granted || q.Get("state") != onboarding.ReconsentState {
		t.Fatalf("re-consent at %s: %v %v", link, q, err)
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
