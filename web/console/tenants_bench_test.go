package console_test

import (
	"net/http"
	"strings"
	"testing"

	"presencebridge/internal/staff"
	"presencebridge/internal/testkit"
	"presencebridge/web/console"
)

// seedDeployment makes 1,000 tenants of every status, each with two
// monitors (one pending), subscriptions, 20 users, a webhook with
// deliveries pending and dead, and open alerts; and "Aardvark", on the
// first page of every order (first by name, degraded, notified last),
// with 100,000 users on 154 authorized monitors and 20,000 dead
// deliveries (past the list's count cap).
func seedDeployment(tb testing.TB, s *site) {
	tb.Helper()
	pool := s.Store.Pool()
	for _, sql := range []string{
		`INSERT INTO tenants (name, status, health, ms_domain, admin_email)
			SELECT 'Tenant ' || lpad(i::text, 4, '0'), (ARRAY['onboarding', 'active', 'active', 'active', 'suspended', 'deleted'])[1 + i % 6],
				CASE WHEN i % 7 = 0 THEN 'degraded' ELSE 'healthy' END, 'tenant' || i || '.example', 'admin@tenant' || i || '.example'
			FROM generate_series(1, 999) i`,
		`UPDATE tenants SET purge_after = now() + interval '30 days' WHERE status = 'deleted'`,
		`INSERT INTO tenants (name, status, health) VALUES ('Aardvark', 'active', 'degraded')`,
		`INSERT INTO monitors (tenant_id, upn, status)
			SELECT t.id, 'mon' || k || '@' || t.id || '.example', CASE WHEN k = 1 THEN 'authorized' ELSE 'pending' END
			FROM tenants t, generate_series(1, 2) k WHERE t.name <> 'Aardvark'`,
		`INSERT INTO monitors (tenant_id, upn, status)
			SELECT t.id, 'mon' || k || '@aardvark.example', 'authorized' FROM tenants t, generate_series(1, 154) k WHERE t.name = 'Aardvark'`,
		`INSERT INTO subscriptions (tenant_id, monitor_id, resource, graph_id, expires_at, last_notification_at)
			SELECT m.tenant_id, m.id, 'r', gen_random_uuid()::text, now() + interval '50 minutes', now() - random() * interval '3 days'
			FROM monitors m WHERE m.status = 'authorized'`,
		`UPDATE subscriptions s SET last_notification_at = now() FROM tenants t WHERE t.id = s.tenant_id AND t.name = 'Aardvark'`,
		`INSERT INTO directory_users (tenant_id, upn, object_id, resolution_status, monitor_id)
			SELECT t.id, 'u' || i || '@' || t.id || '.example', gen_random_uuid(), 'resolved', CASE WHEN i % 2 = 0 THEN m.id END
			FROM tenants t JOIN monitors m ON m.tenant_id = t.id AND m.status = 'authorized', generate_series(1, 20) i
			WHERE t.name <> 'Aardvark'`,
		`INSERT INTO directory_users (tenant_id, upn, object_id, resolution_status, monitor_id)
			SELECT t.id, 'u' || i || '@aardvark.example', gen_random_uuid(), 'resolved',
				(SELECT id FROM monitors WHERE tenant_id = t.id ORDER BY id OFFSET i / 650 LIMIT 1)
			FROM tenants t, generate_series(0, 99999) i WHERE t.name = 'Aardvark'`,
		`INSERT INTO secrets (id, tenant_id, purpose, key_id, ciphertext) SELECT gen_random_uuid(), id, 'bench', 'k1', '\x00' FROM tenants`,
		`INSERT INTO endpoints (tenant_id, url, signing_secret_id) SELECT tenant_id, 'https://hook.example/' || tenant_id, id FROM secrets`,
		`INSERT INTO presence_events (tenant_id, user_object_id, sequence, availability, activity, mapped_state, source, observed_at)
			SELECT t.id, gen_random_uuid(), i, 'Busy', 'InACall', 'talking', 'notification', now()
			FROM tenants t, generate_series(1, CASE WHEN t.name = 'Aardvark' THEN 20000 ELSE 6 END) i`,
		`INSERT INTO deliveries (tenant_id, endpoint_id, event_id, status)
			SELECT e.tenant_id, ep.id, e.id, CASE WHEN e.sequence % 3 = 0 OR t.name = 'Aardvark' THEN 'dead' ELSE 'pending' END
			FROM presence_events e JOIN endpoints ep ON ep.tenant_id = e.tenant_id JOIN tenants t ON t.id = e.tenant_id`,
		`INSERT INTO alerts (tenant_id, kind, message) SELECT id, 'users_unmonitored', 'm' FROM tenants WHERE name LIKE '%3'`,
		`VACUUM ANALYZE`,
	} {
		testkit.Exec(tb, pool, sql)
	}
}

// BenchmarkTenantsListOf1000TenantsWithOneOf100000Users is GET /console/
// (a page of 50 tenants with their figures) over a deployment of 1,000
// tenants, one of them with 100,000 users on its first page, in each
// order and deep in the list; the bound is 300 ms of server time a page.
func BenchmarkTenantsListOf1000TenantsWithOneOf100000Users(b *testing.B) {
	s := newSite(b, console.Limits{})
	seedDeployment(b, s)
	s.add("look@vendor.example", staff.Viewer)
	br := s.browser()
	br.signIn("look@vendor.example")
	for _, c := range []struct{ name, path, want string }{
		{"by name", "/console/", "Aardvark"},
		{"by status", "/console/?sort=status", "Aardvark"},
		{"by last notification", "/console/?sort=-last", "Aardvark"},
		{"searched", "/console/?q=tenant1", "Tenant 0100"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				p := br.Get(c.path)
				if p.Status != http.StatusOK || strings.Count(p.Body, `class="tenant-row"`) != 50 || !strings.Contains(p.Body, c.want) {
					b.Fatalf("%s: %d, %d rows\n%s", c.path, p.Status, strings.Count(p.Body, `class="tenant-row"`), p.Text())
				}
			}
		})
	}
}
