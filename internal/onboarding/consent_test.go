package onboarding

import (
	"context"
	"slices"
	"strings"
	"testing"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/identity"
	"presencebridge/internal/store"
)

// without is roles less one.
func without(roles []string, role string) []string {
	return slices.DeleteFunc(slices.Clone(roles), func(r string) bool { return r == role })
}

// Consent asks for write-back (Presence.ReadWrite.All) but does not insist
// on it: a tenant whose administrator consented to a registration from
// before it was listed is onboarded and monitored as any other (the audit
// log and the engine's alert say what is missing). Every other required
// role still stops consent, and so does write-back when configured as
// required.
func TestConsentWithoutWriteBackCompletesAndOtherMissingRolesStopIt(t *testing.T) {
	for _, tc := range []struct {
		name       string
		granted    []string // the registration's application permissions
		optional   []string // Config.OptionalRoles (nil: the default)
		refused    string   // the permission the refusal names; "" when consent is confirmed
		notGranted []any    // the audit entry's notGranted
	}{
		{name: "everything granted", granted: DefaultRequiredRoles, notGranted: []any{}},
		{name: "write-back not granted (consented before we asked for it)",
			granted: without(DefaultRequiredRoles, identity.WriteBackRole), notGranted: []any{identity.WriteBackRole}},
		{name: "presence reading not granted",
			granted: without(DefaultRequiredRoles, "Presence.Read.All"), refused: "Presence.Read.All"},
		{name: "write-back configured as required",
			granted: without(DefaultRequiredRoles, identity.WriteBackRole), optional: []string{}, refused: identity.WriteBackRole},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(s *graphsim.Seed, c *Config) {
				s.App.Application = tc.granted
				c.RequiredRoles, c.OptionalRoles = DefaultRequiredRoles, tc.optional
			})
			ctx := context.Background()
			tenantID := f.invited()
			u, err := f.svc.ConsentURL(ctx, tenantID, "state-c")
			if err != nil {
				t.Fatal(err)
			}
			q, err := graphsim.NewPerson().SignIn(ctx, u, f.ten().Admin.UPN, f.ten().Admin.Password)
			if err != nil {
				t.Fatal(err)
			}
			err = f.svc.FinishConsent(ctx, tenantID, q, "admin")
			st, serr := f.svc.Status(ctx, tenantID)
			if serr != nil {
				t.Fatal(serr)
			}

			if tc.refused != "" {
				wantProblem(t, err, "Consent is missing permissions.")
				if p := err.(*Problem); !strings.Contains(p.Detail, tc.refused) {
					t.Errorf("refusal %q does not name %s", p.Detail, tc.refused)
				}
				if st.Onboarding.ConsentStatus != "failed" || st.Tenant.MSTenantID != nil {
					t.Errorf("a refused consent was recorded: %+v %+v", st.Onboarding, st.Tenant)
				}
				return
			}
			if err != nil {
				t.Fatalf("FinishConsent: %v", err)
			}
			if st.Onboarding.ConsentStatus != "granted" || st.Tenant.MSTenantID == nil || *st.Tenant.MSTenantID != f.ten().ID {
				t.Fatalf("consent not recorded: %+v %+v", st.Onboarding, st.Tenant)
			}
			log, err := f.st.AuditLog(ctx, tenantID, 10)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(log, func(e store.AuditEntry) bool { return e.Action == "consent.granted" })
			if i < 0 {
				t.Fatalf("no consent.granted in the audit log: %+v", log)
			}
			if got, ok := log[i].Detail["notGranted"].([]any); !ok || !slices.Equal(got, tc.notGranted) {
				t.Errorf("audit notGranted = %#v, want %v", log[i].Detail["notGranted"], tc.notGranted)
			}
		})
	}
}
