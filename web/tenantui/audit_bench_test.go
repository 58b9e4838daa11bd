package tenantui_test

import (
	"context"
	"net/url"
	"strconv"
	"testing"
	"time"

	"presencebridge/internal/apikeys"
	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
	"presencebridge/web/portal/portaltest"
)

// BenchmarkAuditLogPage is the Audit log of a tenant with a year of
// entries (100,000) among 200,000 of other tenants and the vendor's own:
// its first page, a page half a year back by its cursor, and each filter,
// the most selective ones matching a few entries at the far end.
func BenchmarkAuditLogPage(b *testing.B) {
	p := portaltest.New(b)
	bigTenant(b, p, 154, 100_000)
	seedAuditLog(b, p, 100_000)
	var at time.Time
	var id int64
	if err := p.Store.Pool().QueryRow(context.Background(), `SELECT at, id FROM audit_log WHERE tenant_id = $1
		ORDER BY at DESC, id DESC OFFSET 50000 LIMIT 1`, p.Tenant.ID).Scan(&at, &id); err != nil {
		b.Fatal(err)
	}
	day := time.Now().AddDate(0, -3, 0).Format("2006-01-02")
	cursor := url.Values{"cursor": {strconv.FormatInt(at.UnixMicro(), 10) + "." + strconv.FormatInt(id, 10)}}
	benchmarkPages(b, p, page{"first", "/portal/audit/"}, page{"half-a-year-back", "/portal/audit/?" + cursor.Encode()},
		page{"portal-admins", "/portal/audit/?actor=portal"}, page{"staff", "/portal/audit/?actor=staff"},
		page{"onboarding", "/portal/audit/?actor=admin"}, page{"action-endpoint", "/portal/audit/?action=endpoint."},
		page{"action-onboarding", "/portal/audit/?action=onboarding"},
		page{"portal-admins-mapping-rules", "/portal/audit/?actor=portal&action=mapping_rules"},
		page{"one-day", "/portal/audit/?from=" + day + "&to=" + day})
}

// seedAuditLog writes n entries of the portal's tenant over the past year,
// as its actors would: API keys most (roster and presence writes), the
// engine, the portal admins, vendor staff now and then, and onboarding at
// the start; and 2n entries of two other tenants and n/10 of the vendor's
// own (no tenant).
func seedAuditLog(t testing.TB, p *portaltest.Portal, n int) {
	t.Helper()
	ctx := context.Background()
	var keys []string
	for _, name := range []string{"contact center", "wallboard", "crm sync"} {
		_, k, err := apikeys.Create(ctx, p.Store, p.Tenant.ID, apikeys.New{Name: name, Scopes: []string{store.ScopeAdmin}}, "test")
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, "apikey:"+k.ID.String())
	}
	pool := p.Store.Pool()
	admin := "portal:" + p.Seed.Tenants[0].Admin.ID.String()
	testkit.Exec(t, pool, `INSERT INTO audit_log (at, tenant_id, actor, action, detail)
		SELECT now() - interval '1 year' + interval '1 year' * i / $2, $1,
			CASE WHEN i <= 10 THEN 'admin:it@contoso.example'
				WHEN i % 100 < 80 THEN ($3::text[])[1 + i % 3]
				WHEN i % 100 < 95 THEN 'system'
				WHEN i % 100 < 99 THEN $4
				ELSE 'staff:support@presencebridge.example' END,
			CASE WHEN i <= 10 THEN (ARRAY['onboarding.form_saved', 'consent.granted', 'onboarding.completed'])[1 + i % 3]
				WHEN i % 100 < 80 THEN (ARRAY['users.upserted', 'user.removed', 'presence.set', 'sync.requested'])[1 + i % 4]
				WHEN i % 100 < 95 THEN (ARRAY['monitor.renewed', 'monitor.needs_reauth', 'alert.raised'])[1 + i % 3]
				WHEN i % 100 < 99 THEN (ARRAY['portal.signed_in', 'endpoint.secret_rotated', 'monitor.renewal_requested', 'mapping_rules.updated',
					'api_key.created'])[1 + i % 5]
				ELSE 'tenant.viewed' END,
			jsonb_build_object('count', i % 500, 'request', md5(i::text))
		FROM generate_series(1, $2) i`, p.Tenant.ID, n, keys, admin)
	testkit.Exec(t, pool, `WITH o AS (INSERT INTO tenants (name, status) SELECT 'Other ' || i, 'active' FROM generate_series(1, 2) i RETURNING id)
		INSERT INTO audit_log (at, tenant_id, actor, action, detail)
		SELECT now() - interval '1 year' + interval '1 year' * i / $1, o.id, 'system', 'monitor.renewed', '{}'
		FROM o, generate_series(1, $1) i`, n)
	testkit.Exec(t, pool, `INSERT INTO audit_log (at, actor, action)
		SELECT now() - interval '1 year' + interval '1 year' * i / $1, 'staff:support@presencebridge.example', 'staff.signed_in'
		FROM generate_series(1, $1) i`, n/10)
	testkit.Exec(t, pool, `VACUUM ANALYZE audit_log`)
}
