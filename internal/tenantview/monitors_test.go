package tenantview_test

import (
	"context"
	"testing"

	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

func TestMonitorsSayWhomEachCoversAndHowManyMoreTheRosterNeeds(t *testing.T) {
	f := newFixture(t)
	a := f.monitor(t, "a@contoso.example", store.MonitorAuthorized)
	b := f.monitor(t, "b@contoso.example", store.MonitorAuthorized)
	revoked := f.monitor(t, "c@contoso.example", store.MonitorNeedsReauth)
	testkit.Exec(t, f.st.Pool(), `UPDATE monitors SET last_error = 'AADSTS50173: revoked.' WHERE id = $1`, revoked)
	f.monitor(t, "d@contoso.example", store.MonitorPending)
	testkit.Exec(t, f.st.Pool(), `INSERT INTO subscriptions (tenant_id, monitor_id, graph_id, resource, expires_at)
		VALUES ($1, $2, 'sub-a', '/communications/presences', now() + interval '1 hour')`, f.tenant, a)
	users(t, f.st, f.tenant, "a", store.UserResolved, &a, 10)
	users(t, f.st, f.tenant, "b", store.UserResolved, &b, 4)
	users(t, f.st, f.tenant, "c", store.UserResolved, &revoked, 6) // unmonitored, yet take a place
	users(t, f.st, f.tenant, "p", store.UserPending, nil, 5)       // will take a place once looked up
	users(t, f.st, f.tenant, "x", store.UserNotFound, nil, 100)    // never will

	ms, err := f.r.Monitors(context.Background(), f.tenant, 10)
	if err != nil {
		t.Fatal(err)
	}
	// 25 users at 10 a monitor: 3, and a spare; 2 authorized, so 2 more.
	want := struct{ Users, PerMonitor, Needed, Authorized, More int }{25, 10, 4, 2, 2}
	if c := ms.Capacity; c.Users != want.Users || c.PerMonitor != want.PerMonitor || c.Needed != want.Needed ||
		c.Authorized != want.Authorized || c.More != want.More {
		t.Errorf("capacity %+v, want %+v", c, want)
	}
	if len(ms.Items) != 4 {
		t.Fatalf("%d monitors", len(ms.Items))
	}
	for i, w := range []struct {
		upn          string
		users, cap   int
		subscription bool
		reason       string
	}{
		{"a@contoso.example", 10, 10, true, ""},
		{"b@contoso.example", 4, 10, false, ""},
		{"c@contoso.example", 6, 0, false, "AADSTS50173: revoked."},
		{"d@contoso.example", 0, 0, false, "It has not signed in yet."},
	} {
		m := ms.Items[i]
		if m.UPN != w.upn || m.Users != w.users || m.Capacity != w.cap || m.HasSubscription != w.subscription || m.Reason() != w.reason {
			t.Errorf("monitor %d: %s users %d capacity %d subscription %v reason %q; want %+v",
				i, m.UPN, m.Users, m.Capacity, m.HasSubscription, m.Reason(), w)
		}
	}
}

func TestMonitorsNeedNoMoreThanTheSpareWhenTheyAreEnough(t *testing.T) {
	f := newFixture(t)
	a := f.monitor(t, "a@contoso.example", store.MonitorAuthorized)
	f.monitor(t, "b@contoso.example", store.MonitorAuthorized)
	f.monitor(t, "c@contoso.example", store.MonitorAuthorized)
	users(t, f.st, f.tenant, "a", store.UserResolved, &a, 10)
	ms, err := f.r.Monitors(context.Background(), f.tenant, 10)
	if err != nil {
		t.Fatal(err)
	}
	if c := ms.Capacity; c.Needed != 2 || c.Authorized != 3 || c.More != 0 {
		t.Errorf("capacity %+v: one full monitor and a spare needed, three there", c)
	}
}
