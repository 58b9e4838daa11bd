package console_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/staff"
	"presencebridge/internal/testkit"
	"presencebridge/web/console"
)

// auditYear is a year of a deployment of 1,000 tenants' audit log: people
// in the portal, API keys, the engine and staff, about 2,700 entries a
// day.
const auditYear = 1_000_000

// seedYear adds a year of history to seedDeployment's tenants: auditYear
// audit entries (5% of no tenant: staff sign-ins and lookups), 20 alerts
// a tenant resolved over the year with their mails (opened, a reminder,
// resolved) beside the open ones, a few alerts open all year with a
// reminder a day, and the invitations that onboarded each tenant, some
// withdrawn, expired or re-sent; and Adele, whose address is on the
// rosters of 20 tenants.
func seedYear(tb testing.TB, s *site) {
	tb.Helper()
	pool := s.Store.Pool()
	for _, sql := range []string{
		`INSERT INTO audit_log (at, tenant_id, actor, action, detail)
			SELECT now() - (g.i::float8 / $1::int) * interval '365 days',
				CASE WHEN g.i % 20 = 0 THEN NULL ELSE t.ids[1 + g.i % array_length(t.ids, 1)] END,
				CASE WHEN g.i % 20 = 0 THEN 'staff:' || (ARRAY['ana', 'ben', 'cy', 'dee'])[1 + g.i / 20 % 4] || '@vendor.example'
					WHEN g.i % 10 < 4 THEN 'engine:pass'
					WHEN g.i % 10 < 7 THEN 'apikey:' || (g.i % 1000)
					WHEN g.i % 10 < 9 THEN 'portal:admin' || (g.i % 1000) || '@tenant.example'
					ELSE 'staff:' || (ARRAY['ana', 'ben', 'cy', 'dee'])[1 + g.i / 10 % 4] || '@vendor.example' END,
				CASE WHEN g.i % 20 = 0 THEN (ARRAY['staff.signed_in', 'staff.users_looked_up'])[1 + g.i / 20 % 2]
					WHEN g.i % 10 < 4 THEN (ARRAY['monitor.renewed', 'monitor.needs_reauth', 'tenant.degraded', 'tenant.recovered'])[1 + g.i / 10 % 4]
					WHEN g.i % 10 < 7 THEN (ARRAY['sync.requested', 'endpoint.updated', 'mapping_rules.updated'])[1 + g.i / 10 % 3]
					WHEN g.i % 10 < 9 THEN (ARRAY['monitor.added', 'endpoint.created', 'api_key.created', 'portal_admin.added'])[1 + g.i / 10 % 4]
					WHEN g.i % 1000 = 9 THEN 'tenant.suspended'
					ELSE (ARRAY['tenant.verified', 'sync.requested', 'endpoint.replayed'])[1 + g.i / 10 % 3] END,
				jsonb_build_object('n', g.i)
			FROM (SELECT array_agg(id) AS ids FROM tenants) t, generate_series(1, $1::int) g(i)`,
		`INSERT INTO alerts (tenant_id, kind, subject, message, raised_at, resolved_at, notified_at, mails_sent, resolved_notified_at)
			SELECT t.id, (ARRAY['monitor_needs_reauth', 'users_unmonitored', 'users_unresolved', 'endpoint_disabled', 'tenant_access'])[1 + k % 5],
				'year-' || k, 'resolved since', now() - k * interval '18 days' - interval '3 hours',
				now() - k * interval '18 days', now() - k * interval '18 days' - interval '3 hours', 3, now() - k * interval '18 days'
			FROM tenants t, generate_series(1, 20) k`,
		`INSERT INTO alerts (tenant_id, kind, subject, message, raised_at, notified_at, mails_sent)
			SELECT id, 'secret_expiring', 'all-year', 'open all year', now() - interval '365 days', now() - interval '365 days', 365
			FROM tenants WHERE name LIKE '%7'`,
		`INSERT INTO mail_log (tenant_id, alert_id, reason, recipients, subject, body, sent_at)
			SELECT a.tenant_id, a.id, r.reason, ARRAY['admin@tenant.example'], 'Presence Bridge: ' || a.kind, 'body', a.raised_at + r.after
			FROM alerts a, (VALUES ('opened', interval '0'), ('reminder', interval '1 hour'), ('resolved', interval '3 hours')) r(reason, after)
			WHERE a.subject LIKE 'year-%'`,
		`INSERT INTO mail_log (tenant_id, alert_id, reason, recipients, subject, body, sent_at)
			SELECT a.tenant_id, a.id, CASE WHEN d = 0 THEN 'opened' ELSE 'reminder' END, ARRAY['admin@tenant.example'], 'Presence Bridge: ' || a.kind,
				'body', a.raised_at + d * interval '1 day'
			FROM alerts a, generate_series(0, 364) d WHERE a.subject = 'all-year'`,
		`INSERT INTO invites (tenant_id, created_by, created_at, expires_at, revoked_at)
			SELECT t.id, 'staff:ana@vendor.example', now() - k * interval '3 days' - (row_number() OVER ()) * interval '5 minutes',
				now() - k * interval '3 days' + interval '7 days',
				CASE WHEN k = 2 THEN now() - interval '1 day' END
			FROM tenants t, generate_series(0, 2) k`,
		`UPDATE directory_users d SET email = 'adele@partner.example' FROM (SELECT id FROM tenants WHERE name LIKE 'Tenant 00%' ORDER BY name LIMIT 20) t
			WHERE d.tenant_id = t.id AND d.upn LIKE 'u1@%'`,
		`VACUUM ANALYZE`,
	} {
		if strings.Contains(sql, "$1") {
			testkit.Exec(tb, pool, sql, auditYear)
			continue
		}
		testkit.Exec(tb, pool, sql)
	}
}

// cursor is a list's ?after= of an entry at at, as the console writes it.
func cursor(at time.Time) string {
	b, _ := json.Marshal(map[string]any{"a": at, "i": int64(1) << 62})
	return base64.RawURLEncoding.EncodeToString(b)
}

// BenchmarkConsoleListsOf1000TenantsWithAYearOfHistory is the console's
// other pages over seedDeployment's 1,000 tenants with a year of history
// (seedYear), signed in over loopback: the alerts of every tenant, the
// audit log across tenants with each of its filters and a page six
// months back, the user lookup by UPN among the 100,000 users of one
// tenant and by an e-mail on 20 rosters, and the invitations. The bound
// is 300 ms of server time a page.
func BenchmarkConsoleListsOf1000TenantsWithAYearOfHistory(b *testing.B) {
	s := newSite(b, console.Limits{})
	seedDeployment(b, s)
	seedYear(b, s)
	s.add("look@vendor.example", staff.Viewer)
	br := s.browser()
	br.signIn("look@vendor.example")
	var tenant0500 uuid.UUID
	if err := s.Store.Pool().QueryRow(b.Context(), `SELECT id FROM tenants WHERE name = 'Tenant 0500'`).Scan(&tenant0500); err != nil {
		b.Fatal(err)
	}
	halfYear := url.QueryEscape(cursor(time.Now().Add(-182 * 24 * time.Hour)))
	for _, c := range []struct {
		name, path string
		status     int
		rows       string // the class of a row, counted when n > 0
		n          int
	}{
		{"alerts/open", "/console/alerts/", 200, `class="alert-row"`, 50},
		{"alerts/resolved too", "/console/alerts/?resolved=1", 200, `class="alert-row"`, 50},
		{"alerts/one kind", "/console/alerts/?resolved=1&kind=endpoint_disabled", 200, `class="alert-row"`, 50},
		{"alerts/tenants by name", "/console/alerts/?resolved=1&tenant=Tenant+05", 200, `class="alert-row"`, 50},
		{"alerts/a tenant", "/console/alerts/?resolved=1&tenant=" + tenant0500.String(), 200, `class="alert-row"`, 20},
		{"alerts/six months back", "/console/alerts/?resolved=1&after=" + halfYear, 200, `class="alert-row"`, 50},
		{"audit/everything", "/console/audit/", 200, `class="audit-row"`, 50},
		{"audit/a tenant", "/console/audit/?tenant=" + tenant0500.String(), 200, `class="audit-row"`, 50},
		{"audit/tenants by name", "/console/audit/?tenant=Tenant+05", 200, `class="audit-row"`, 50},
		{"audit/staff", "/console/audit/?actor=staff", 200, `class="audit-row"`, 50},
		{"audit/one staff member", "/console/audit/?actor=staff:ana@vendor.example", 200, `class="audit-row"`, 50},
		{"audit/an action", "/console/audit/?action=tenant.", 200, `class="audit-row"`, 50},
		{"audit/staff suspending", "/console/audit/?actor=staff&action=tenant.suspended", 200, `class="audit-row"`, 50},
		{"audit/six months back", "/console/audit/?after=" + halfYear, 200, `class="audit-row"`, 50},
		{"users/a UPN among 100,000", "/console/users?q=U54321@Aardvark.example", http.StatusSeeOther, "", 0},
		{"users/an e-mail on 20 rosters", "/console/users?q=adele@partner.example", 200, `class="user-match"`, 20},
		{"users/no match", "/console/users?q=nobody@nowhere.example", 200, "", 0},
		{"invitations/in force", "/console/invitations/", 200, `class="invite-row"`, 50},
		{"invitations/all", "/console/invitations/?all=1", 200, `class="invite-row"`, 50},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				p := br.Get(c.path)
				if p.Status != c.status || c.n > 0 && strings.Count(p.Body, c.rows) != c.n {
					b.Fatalf("%s: %d, %d rows\n%s", c.path, p.Status, strings.Count(p.Body, c.rows), p.Text())
				}
			}
		})
	}
}
