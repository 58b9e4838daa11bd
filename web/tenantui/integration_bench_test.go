package tenantui_test

import (
	"context"
	"testing"

	"presencebridge/internal/apikeys"
	"presencebridge/internal/deliver"
	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
	"presencebridge/web/portal/portaltest"
)

// BenchmarkIntegrationPage is Integration — webhooks with their backlogs,
// API keys, mapping rules — and a webhook's page with its recent
// deliveries, of a tenant whose 250,000 recent events went to two
// webhooks (a third, disabled, holds dead letters), beside a neighbour
// as busy.
func BenchmarkIntegrationPage(b *testing.B) {
	p := portaltest.New(b)
	bigTenant(b, p, 154, 100_000)
	eps := seedDeliveries(b, p, 250_000)
	benchmarkPages(b, p, page{"integration", "/portal/integration/"}, page{"webhook", "/portal/integration/webhooks/" + eps[0].ID.String()},
		page{"disabled-webhook", "/portal/integration/webhooks/" + eps[2].ID.String()})
}

// seedDeliveries gives the portal's tenant three webhooks, twelve API
// keys (two revoked), saved mapping rules and n presence events of its
// users, each delivered to the first two webhooks: the newest 300 still
// pending, 1 % dead and 1 % superseded; the third webhook, disabled, has
// the newest 20,000 as dead letters. A neighbour tenant gets an endpoint
// and n events delivered to it. It returns the tenant's webhooks.
func seedDeliveries(t testing.TB, p *portaltest.Portal, n int) []store.Endpoint {
	t.Helper()
	ctx := context.Background()
	var eps []store.Endpoint
	for _, s := range []deliver.Settings{{URL: "https://cc.contoso.example/presence", Description: "Contact center"},
		{URL: "https://wallboard.contoso.example/hook", Description: "Wallboard"}, {URL: "https://pbx.contoso.example/teams", Description: "Old PBX"}} {
		e, _, err := deliver.AddEndpoint(ctx, p.Store, p.Tenant.ID, s, "test", false)
		if err != nil {
			t.Fatal(err)
		}
		eps = append(eps, e)
	}
	for i, name := range []string{"contact center", "wallboard", "crm sync", "reporting", "staging", "test 1", "test 2", "test 3",
		"test 4", "test 5", "old pbx", "migration"} {
		_, k, err := apikeys.Create(ctx, p.Store, p.Tenant.ID, apikeys.New{Name: name, Scopes: []string{store.ScopePresenceRead}}, "test")
		if err != nil {
			t.Fatal(err)
		}
		if i >= 10 {
			if _, err := apikeys.Revoke(ctx, p.Store, p.Tenant.ID, k.ID, "test"); err != nil {
				t.Fatal(err)
			}
		}
	}
	pool := p.Store.Pool()
	testkit.Exec(t, pool, `INSERT INTO mapping_rules (tenant_id, rules) VALUES ($1, '{"talkingInMeeting": true, "debounce": "5s"}')`, p.Tenant.ID)
	testkit.Exec(t, pool, `UPDATE endpoints SET enabled = false, disabled_reason = 'Disabled by an administrator.' WHERE id = $1`, eps[2].ID)
	events := `INSERT INTO presence_events (tenant_id, user_object_id, sequence, availability, activity, mapped_state, source, observed_at, position, created_at)
		SELECT $1, u.ids[1 + i % cardinality(u.ids)], i, 'Busy', 'InACall', 'talking', 'notification',
			now() - ($2 - i) * interval '5 seconds', i, now() - ($2 - i) * interval '5 seconds'
		FROM (SELECT array_agg(object_id) AS ids FROM directory_users WHERE tenant_id = $1 AND object_id IS NOT NULL) u, generate_series(1, $2) i`
	testkit.Exec(t, pool, events, p.Tenant.ID, n)
	testkit.Exec(t, pool, `INSERT INTO deliveries (tenant_id, endpoint_id, event_id, user_object_id, status, attempts, last_status, last_error,
			next_attempt_at, created_at, delivered_at)
		SELECT e.tenant_id, ep.id, e.id, e.user_object_id, s.status, CASE s.status WHEN 'pending' THEN 0 WHEN 'dead' THEN 12 ELSE 1 END,
			CASE s.status WHEN 'delivered' THEN 200 WHEN 'dead' THEN 503 END, CASE s.status WHEN 'dead' THEN 'Service Unavailable' END,
			e.created_at, e.created_at, CASE s.status WHEN 'delivered' THEN e.created_at + interval '40 milliseconds' END
		FROM presence_events e CROSS JOIN unnest($2::uuid[]) AS ep (id)
		CROSS JOIN LATERAL (SELECT CASE WHEN e.position > $3 - 300 THEN 'pending' WHEN e.position % 100 = 0 THEN 'dead'
			WHEN e.position % 100 = 1 THEN 'superseded' ELSE 'delivered' END AS status) s
		WHERE e.tenant_id = $1`, p.Tenant.ID, []any{eps[0].ID, eps[1].ID}, n)
	testkit.Exec(t, pool, `INSERT INTO deliveries (tenant_id, endpoint_id, event_id, user_object_id, status, next_attempt_at, created_at)
		SELECT e.tenant_id, $2, e.id, e.user_object_id, 'dead', e.created_at, e.created_at
		FROM presence_events e WHERE e.tenant_id = $1 AND e.position > $3 - 20000`, p.Tenant.ID, eps[2].ID, n)
	var neighbour store.Tenant
	neighbour, err := p.Store.CreateTenant(ctx, "Neighbour", p.Tenant.CreatedAt)
	if err != nil {
		t.Fatal(err)
	}
	e, _, err := deliver.AddEndpoint(ctx, p.Store, neighbour.ID, deliver.Settings{URL: "https://pbx.neighbour.example/presence"}, "test", false)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Exec(t, pool, `INSERT INTO directory_users (tenant_id, upn, object_id, resolution_status)
		SELECT $1, 'user' || i || '@neighbour.example', gen_random_uuid(), 'resolved' FROM generate_series(1, 1000) i`, neighbour.ID)
	testkit.Exec(t, pool, events, neighbour.ID, n)
	testkit.Exec(t, pool, `INSERT INTO deliveries (tenant_id, endpoint_id, event_id, user_object_id, status, attempts, last_status,
			next_attempt_at, created_at, delivered_at)
		SELECT e.tenant_id, $2, e.id, e.user_object_id, 'delivered', 1, 200, e.created_at, e.created_at, e.created_at
		FROM presence_events e WHERE e.tenant_id = $1`, neighbour.ID, e.ID)
	testkit.Exec(t, pool, `VACUUM ANALYZE presence_events, deliveries`)
	return eps
}
