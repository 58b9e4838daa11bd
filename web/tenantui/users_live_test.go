package tenantui_test

import (
	"testing"
	"time"

	"presencebridge/internal/testkit"
	"presencebridge/web/portal/portaltest"
)

// Support compares what we hold with Microsoft: a user's page reads their
// presence from Graph now beside the stored one, and names the monitor
// that covers them with its subscription's expiry.
func TestAUsersPageShowsTheirLivePresenceAtMicrosoftAndTheMonitorCoveringThem(t *testing.T) {
	p := portaltest.New(t)
	seedUser := p.Seed.Tenants[0].Users[0]
	alex := resolvedRoster(t, p, 1)[seedUser.UPN]
	presenceChange(t, p, *alex.ObjectID, "Available", "Available", "available")
	if err := p.Sim.SetTeamsPresence(seedUser.ID, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	m, err := p.Store.AddMonitor(t.Context(), p.Tenant.ID, p.Seed.Tenants[0].Monitors[0].UPN)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Exec(t, p.Store.Pool(), `UPDATE directory_users SET monitor_id = $2 WHERE id = $1`, alex.ID, m.ID)
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	testkit.Exec(t, p.Store.Pool(), `INSERT INTO subscriptions (tenant_id, monitor_id, graph_id, resource, expires_at)
		VALUES ($1, $2, 'g-1', 'r', $3)`, p.Tenant.ID, m.ID, expires)

	b := p.Browser()
	b.SignIn()
	wantBody(t, b.Get(userPage(alex.UPN)), `id="presence-graph">Available / Available<`, `id="presence-live">Busy / InACall<`,
		`id="user-monitor">`+m.UPN+` (Not authorized); subscription expires 2 Jan 2030 03:04:05 UTC<`)

	// Graph refusing shows as the reason, not as a failed page: a user
	// Microsoft does not know (deleted since it was resolved).
	testkit.Exec(t, p.Store.Pool(), `UPDATE directory_users SET object_id = gen_random_uuid() WHERE id = $1`, alex.ID)
	wantBody(t, b.Get(userPage(alex.UPN)), `id="presence-live">could not be read: `)
}
