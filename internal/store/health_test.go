package store_test

import (
	"context"
	"testing"

	"presencebridge/internal/store"
)

// Health sits beside the lifecycle: only an active tenant reports
// "degraded"; the change of condition is reported once, and the time it
// changed is kept while the same condition persists.
func TestTenantStatusIsDegradedOnlyWhileActiveAndUnhealthy(t *testing.T) {
	ctx := context.Background()
	st, tenant := directoryFixture(t)
	status := func() store.TenantStatus {
		t.Helper()
		s, err := st.TenantStatusOf(ctx, tenant)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if changed, err := st.SetTenantDegraded(ctx, tenant, "consent_withdrawn", "AADSTS7000229"); err != nil || !changed {
		t.Fatalf("first degrade: %v %v", changed, err)
	}
	if s := status(); s.Status != store.TenantOnboarding || s.Health != store.HealthDegraded {
		t.Fatalf("an onboarding tenant's status: %+v", s)
	}
	if err := st.CompleteOnboarding(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	first := status()
	if first.Status != store.TenantDegraded || first.Lifecycle != store.TenantActive || first.Condition != "consent_withdrawn" {
		t.Fatalf("an active degraded tenant's status: %+v", first)
	}
	if changed, _ := st.SetTenantDegraded(ctx, tenant, "consent_withdrawn", "AADSTS7000229 again"); changed {
		t.Error("the same condition seen again reported as a change")
	}
	if s := status(); !s.HealthChangedAt.Equal(*first.HealthChangedAt) || s.Reason != "AADSTS7000229 again" {
		t.Errorf("same condition: changed at %v (was %v), reason %q", s.HealthChangedAt, first.HealthChangedAt, s.Reason)
	}
	if changed, _ := st.SetTenantDegraded(ctx, tenant, "app_disabled", "AADSTS7000112"); !changed {
		t.Error("another condition not reported as a change")
	}
	if changed, err := st.SetTenantHealthy(ctx, tenant); err != nil || !changed {
		t.Fatalf("healthy: %v %v", changed, err)
	}
	if changed, _ := st.SetTenantHealthy(ctx, tenant); changed {
		t.Error("healthy twice reported as a change")
	}
	if s := status(); s.Status != store.TenantActive || s.Condition != "" || s.Reason != "" {
		t.Errorf("after recovery: %+v", s)
	}
}
