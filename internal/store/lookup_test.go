package store_test

import (
	"testing"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// A person is found in every tenant whose roster has them — by the UPN
// entered, the UPN Graph answered, or their mail, whatever the case — in
// the order of the tenants' names, and nobody else is.
func TestFindUsersAnywhereFindsAPersonByUPNOrMailInEveryTenant(t *testing.T) {
	st, zeta := storetest.New(t)
	pool := st.Pool()
	testkit.Exec(t, pool, `UPDATE tenants SET name = 'Zeta' WHERE id = $1`, zeta)
	alpha := storetest.Tenant(t, pool, "Alpha")
	testkit.Exec(t, pool, `UPDATE tenants SET status = 'active', health = 'degraded' WHERE id = $1`, alpha)
	testkit.Exec(t, pool, `INSERT INTO directory_users (tenant_id, upn, graph_upn, email, resolution_status)
		VALUES ($1, 'Pat@Contoso.example', 'pat@contoso.example', 'pat.lee@contoso.example', 'resolved'),
		       ($1, 'sam@contoso.example', NULL, NULL, 'pending'),
		       ($2, 'pat.lee@contoso.example', NULL, NULL, 'not_found')`, zeta, alpha)
	for _, q := range []string{"pat@contoso.example", " PAT.LEE@contoso.example "} {
		got, err := st.FindUsersAnywhere(t.Context(), q, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := 1
		if q != "pat@contoso.example" {
			want = 2
		}
		if len(got) != want {
			t.Fatalf("%q: %d matches, want %d: %+v", q, len(got), want, got)
		}
		last := got[len(got)-1]
		if last.TenantID != zeta || last.TenantName != "Zeta" || last.TenantHealth != store.HealthHealthy || last.UPN != "Pat@Contoso.example" ||
			last.Status != store.UserResolved {
			t.Errorf("%q: %+v", q, last)
		}
		if want == 2 && (got[0].TenantName != "Alpha" || got[0].TenantStatus != store.TenantActive || got[0].TenantHealth != store.HealthDegraded ||
			got[0].Status != store.UserNotFound) {
			t.Errorf("%q: first match %+v, want Alpha's not-found row", q, got[0])
		}
	}
	if got, err := st.FindUsersAnywhere(t.Context(), "nobody@contoso.example", 10); err != nil || len(got) != 0 {
		t.Errorf("nobody: %+v %v", got, err)
	}
}
