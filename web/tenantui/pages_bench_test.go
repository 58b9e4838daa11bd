package tenantui_test

import (
	"net/http"
	"testing"

	"presencebridge/internal/testkit"
	"presencebridge/web/portal/portaltest"
)

// The tenant pages of a tenant in service at the size issue 13 names —
// 154 monitors, 100,000 users — each read through the signed-in portal
// over loopback: at most 300 ms of server time. bigTenant seeds the
// tenant; tenantInService adds what such a tenant has besides.

// BenchmarkHomePage is Home, whose counts cover every user and monitor.
func BenchmarkHomePage(b *testing.B) {
	p := portaltest.New(b)
	bigTenant(b, p, 154, 100_000)
	tenantInService(b, p)
	benchmarkPages(b, p, page{"home", "/portal/"})
}

// BenchmarkAppRegistrationPage is App registration of a tenant on its own
// app, with monitors to sign in again after the app changed.
func BenchmarkAppRegistrationPage(b *testing.B) {
	p := portaltest.New(b)
	bigTenant(b, p, 154, 100_000)
	tenantInService(b, p)
	pool := p.Store.Pool()
	testkit.Exec(b, pool, `INSERT INTO tenant_apps (tenant_id, client_id, app_tenant_id, secret_expires_at, secret_expiry_source)
		VALUES ($1, gen_random_uuid(), gen_random_uuid(), now() + interval '20 days', 'graph')`, p.Tenant.ID)
	testkit.Exec(b, pool, `UPDATE monitors SET status = 'needs_update' WHERE tenant_id = $1 AND upn LIKE '%1@contoso.example'`, p.Tenant.ID)
	benchmarkPages(b, p, page{"app", "/portal/app/"})
}

// BenchmarkAdminsPage is Admins, ten of them.
func BenchmarkAdminsPage(b *testing.B) {
	p := portaltest.New(b)
	bigTenant(b, p, 154, 100_000)
	tenantInService(b, p)
	testkit.Exec(b, p.Store.Pool(), `INSERT INTO portal_admins (tenant_id, object_id, ms_tenant_id, upn, display_name, added_by)
		SELECT tenant_id, gen_random_uuid(), ms_tenant_id, 'admin' || i || '@contoso.example', 'Admin ' || i, added_by
		FROM portal_admins, generate_series(1, 9) i WHERE tenant_id = $1`, p.Tenant.ID)
	benchmarkPages(b, p, page{"admins", "/portal/admins/"})
}

// page is a page to read: a sub-benchmark's name and the page's path.
type page struct{ name, path string }

// benchmarkPages signs the tenant's admin in and reads each page, one
// sub-benchmark each when there are several.
func benchmarkPages(b *testing.B, p *portaltest.Portal, pages ...page) {
	// The seed's writes reach the disk before the clock starts, not while
	// the first page is read.
	testkit.Exec(b, p.Store.Pool(), `CHECKPOINT`)
	br := p.Browser()
	br.SignIn()
	read := func(b *testing.B, path string) {
		for b.Loop() {
			if pg := br.Get(path); pg.Status != http.StatusOK {
				b.Fatalf("%s: status %d", path, pg.Status)
			}
		}
	}
	if len(pages) == 1 {
		read(b, pages[0].path)
		return
	}
	for _, pg := range pages {
		b.Run(pg.name, func(b *testing.B) { read(b, pg.path) })
	}
}

// tenantInService gives a bigTenant what a tenant in service has beside
// its monitored users: 3 % of its roster unresolved (not found, disabled,
// duplicates) and 1 % still being looked up, two open alerts and a year
// of resolved ones, and a neighbour as large, so that reads must keep to
// the tenant's own rows as they would in a shared database.
func tenantInService(t testing.TB, p *portaltest.Portal) {
	t.Helper()
	pool := p.Store.Pool()
	testkit.Exec(t, pool, `UPDATE directory_users SET resolution_status = (ARRAY['not_found', 'disabled', 'duplicate'])[1 + seq % 3],
			resolution_error = 'not in the directory', monitor_id = NULL, object_id = NULL
		WHERE tenant_id = $1 AND seq % 100 < 3`, p.Tenant.ID)
	testkit.Exec(t, pool, `UPDATE directory_users SET resolution_status = 'pending', monitor_id = NULL, object_id = NULL
		WHERE tenant_id = $1 AND seq % 100 = 3`, p.Tenant.ID)
	testkit.Exec(t, pool, `INSERT INTO alerts (tenant_id, kind, subject, message, raised_at, resolved_at)
		SELECT $1, 'monitor_needs_reauth', 'presence-monitor-' || (i % 154) || '@contoso.example', 'Sign the monitor in again.',
			now() - i * interval '1 hour', now() - i * interval '1 hour' + interval '20 minutes'
		FROM generate_series(1, 8760) i`, p.Tenant.ID)
	testkit.Exec(t, pool, `INSERT INTO alerts (tenant_id, kind, subject, message)
		VALUES ($1, 'users_unresolved', '', '3,000 users match no usable account.'),
			($1, 'monitor_needs_reauth', 'presence-monitor-7@contoso.example', 'Sign the monitor in again.')`, p.Tenant.ID)
	testkit.Exec(t, pool, `WITH n AS (INSERT INTO tenants (name, status) VALUES ('Neighbour', 'active') RETURNING id)
		INSERT INTO directory_users (tenant_id, upn, object_id, resolution_status)
		SELECT n.id, 'user' || i || '@neighbour.example', gen_random_uuid(), 'resolved' FROM n, generate_series(1, 100000) i`)
	testkit.Exec(t, pool, `VACUUM ANALYZE directory_users, monitors, alerts`)
}
