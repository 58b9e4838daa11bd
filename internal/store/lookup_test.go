package store_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

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
		       ($2, 'pat.lee@contoso.example', NULL, NULL, 'not_found'),
		       ($2, 'chris@contoso.example', 'Chris.Renamed@contoso.example', 'chris@contoso.example', 'resolved')`, zeta, alpha)
	// Chris was renamed in Entra after the roster named them: found by the
	// UPN Graph answered as well as by the one entered (their mail).
	for _, q := range []string{"chris.renamed@contoso.example", "CHRIS@contoso.example"} {
		got, err := st.FindUsersAnywhere(t.Context(), q, 10)
		if err != nil || len(got) != 1 || got[0].UPN != "chris@contoso.example" || got[0].TenantID != alpha {
			t.Errorf("%q: %+v %v; want Alpha's row of chris@contoso.example", q, got, err)
		}
	}
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

// Each of the three ways of finding a person is a lookup in an index, the
// UPN Graph answered and the mail in indexes that hold them only where
// they differ from the UPN entered (migration 000064): a lookup that did
// not say as much would read every roster row of the deployment.
func TestEachWayOfFindingAUserAnywhereIsAnIndexLookup(t *testing.T) {
	st, _ := storetest.New(t)
	tx, err := st.Pool().Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(t.Context())
	// Whatever the table's size, a sequential scan stays possible only
	// where no index serves.
	if _, err := tx.Exec(t.Context(), `SET LOCAL enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(t.Context(), `EXPLAIN (COSTS OFF) `+store.FindUsersAnywhereSQL, "pat@contoso.example", 10)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(lines, "\n")
	for _, idx := range []string{"directory_users_upn_any_idx", "directory_users_graph_upn_any_idx", "directory_users_email_any_idx"} {
		if !strings.Contains(plan, idx) {
			t.Errorf("the lookup does not use %s:\n%s", idx, plan)
		}
	}
	if strings.Contains(plan, "Seq Scan on directory_users") {
		t.Errorf("the lookup reads the whole roster table:\n%s", plan)
	}
}

// Resolving a roster whose people kept the UPN they were entered with, and
// have it as their mail, writes nothing into the lookup's indexes of the
// UPN Graph answered and of the mail (migration 000064): the lookup of the
// UPN entered finds them. Indexed whole, each resolution wrote two more
// entries of the same address, and the cold start resolves every user.
func TestResolvingPeopleWhoseAddressesAgreeWritesNoEntryIntoTheOtherLookups(t *testing.T) {
	st, _ := storetest.New(t)
	tenant, rs := pendingRoster(t, st, 2000)
	if err := st.RecordResolutions(t.Context(), tenant, rs); err != nil {
		t.Fatal(err)
	}
	for _, idx := range []string{"directory_users_graph_upn_any_idx", "directory_users_email_any_idx", "directory_users_upn_any_idx"} {
		var pages int64
		if err := st.Pool().QueryRow(t.Context(), `SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int`, idx).Scan(&pages); err != nil {
			t.Fatal(err)
		}
		// An empty B-tree is its metapage; 2,000 addresses fill about ten
		// pages more.
		if empty := pages <= 1; empty != (idx != "directory_users_upn_any_idx") {
			t.Errorf("%s has %d pages after resolving 2,000 people whose addresses agree", idx, pages)
		}
	}
}
