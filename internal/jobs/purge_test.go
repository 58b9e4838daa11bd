package jobs

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"presencebridge/internal/testkit"
)

// TestTheHourlyPurgeRemovesDeletedTenantsOnlyOnceTheirGraceEnded: a
// worker runs the purge as it starts (and hourly after); a tenant deleted
// whose purge date passed is gone with its rows, audited, and one still
// within its grace stays.
func TestTheHourlyPurgeRemovesDeletedTenantsOnlyOnceTheirGraceEnded(t *testing.T) {
	pool := testkit.DB(t)
	testkit.Exec(t, pool, `INSERT INTO tenants (id, name, status, purge_after) VALUES
		('00000000-0000-4000-8000-000000000001', 'Gone', 'deleted', now() - interval '1 hour'),
		('00000000-0000-4000-8000-000000000002', 'Within grace', 'deleted', now() + interval '29 days')`)
	testkit.Exec(t, pool, `INSERT INTO monitors (tenant_id, upn) VALUES ('00000000-0000-4000-8000-000000000001', 'm@gone.example')`)
	events := startWorker(t, pool, Options{})
	awaitJob(t, events, PurgeArgs{}.Kind())
	rows, err := pool.Query(t.Context(), `SELECT name FROM tenants ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(names) != 1 || names[0] != "Within grace" {
		t.Errorf("tenants left: %q, want only the one within its grace", names)
	}
	var monitors, audited int
	pool.QueryRow(t.Context(), `SELECT count(*) FROM monitors`).Scan(&monitors)
	pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE action = 'tenant.purged' AND actor = 'system'
		AND detail->>'tenant' = '00000000-0000-4000-8000-000000000001'`).Scan(&audited)
	if monitors != 0 || audited != 1 {
		t.Errorf("%d monitors of the purged tenant left, %d purges audited", monitors, audited)
	}
}
