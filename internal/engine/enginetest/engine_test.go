package enginetest

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"presencebridge/internal/certs"
	"presencebridge/internal/engine"
	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// The subscription engine (internal/engine) drives graphsim through
// this client acting as a monitor. It lives here because only this package
// may link msgraph-sdk-go.
func TestEngineKeepsTheMonitorsSubscriptionAliveAndExact(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st, _, tenant := ourTenant(t, e.Tenant.ID)
	pool := st.Pool()
	mon, err := st.AddMonitor(ctx, tenant, e.Tenant.Monitors[0].UPN)
	if err != nil {
		t.Fatal(err)
	}
	cm := certs.New(st, e.Now)
	wh := testkit.NewNotificationReceiver(t)
	eng := engine.New(st, cm, wh.URL, wh.URL, e.Now)
	c, _ := e.monitor(0)
	users := e.UserIDs()

	ensure := func(ids []string, want engine.Outcome) store.SubscriptionState {
		t.Helper()
		got, err := eng.Ensure(ctx, c, tenant, mon.ID, ids)
		if err != nil || got != want {
			t.Fatalf("Ensure(%d users) = %s, %v; want %s", len(ids), got, err, want)
		}
		s, _ := st.SubscriptionForMonitor(ctx, tenant, mon.ID)
		return s
	}
	atGraph := func() []graphapi.Subscription {
		t.Helper()
		subs, err := c.ListSubscriptions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return subs
	}

	s := ensure(users[:3], engine.Created)
	if g := atGraph(); len(g) != 1 || g[0].ID != s.GraphID || s.ExpiresAt == nil || !g[0].IncludeResourceData {
		t.Fatalf("after create: ours %+v, Graph's %+v", s, g)
	}
	ensure(users[:3], engine.Unchanged)

	// The user set changes: the subscription is replaced, never doubled.
	s = ensure(users[:2], engine.Replaced)
	if g := atGraph(); len(g) != 1 || g[0].ID != s.GraphID || !sameUsers(g[0].Resource, users[:2]) {
		t.Fatalf("after replace: ours %+v, Graph's %+v", s, g)
	}

	// Before its renewal point — at its own phase, never more than
	// RenewLatest + RenewEvery before expiry — nothing happens; within
	// RenewLatest of expiry it renews.
	e.Advance(s.ExpiresAt.Sub(e.Now()) - engine.RenewLatest - engine.RenewEvery - time.Minute)
	c, _ = e.monitor(0)
	ensure(users[:2], engine.Unchanged)
	e.Advance(engine.RenewEvery + 2*time.Minute)
	c, _ = e.monitor(0)
	old := *s.ExpiresAt
	s = ensure(users[:2], engine.Renewed)
	if !s.ExpiresAt.After(old.Add(40 * time.Minute)) {
		t.Errorf("renewed to %v, was %v", s.ExpiresAt, old)
	}

	// Graph lost it (deleted behind our back): due for renewal, it is made again.
	if err := c.DeleteSubscription(ctx, s.GraphID); err != nil {
		t.Fatal(err)
	}
	e.Advance(s.ExpiresAt.Sub(e.Now()) - 9*time.Minute)
	c, _ = e.monitor(0)
	s = ensure(users[:2], engine.Replaced)
	if g := atGraph(); len(g) != 1 || g[0].ID != s.GraphID {
		t.Fatalf("after recreate: ours %+v, Graph's %+v", s, g)
	}

	// A crash left Graph with a subscription we never recorded: 409 → adopted.
	cert, _ := cm.Active(ctx)
	if err := c.DeleteSubscription(ctx, s.GraphID); err != nil {
		t.Fatal(err)
	}
	testkit.Exec(t, pool, `DELETE FROM subscriptions`)
	orphan, err := c.CreateSubscription(ctx, graphapi.SubscriptionSpec{Resource: s.Resource,
		NotificationURL: wh.URL, LifecycleNotificationURL: wh.URL, ExpiresAt: e.Now().Add(50 * time.Minute), ClientState: "orphan-state",
		IncludeResourceData: true, EncryptionCertificate: base64.StdEncoding.EncodeToString(cert.Certificate.Raw), EncryptionCertificateID: cert.ID})
	if err != nil {
		t.Fatal(err)
	}
	s = ensure(users[:2], engine.Adopted)
	key, err := st.SubscriptionByGraphID(ctx, orphan.ID)
	if err != nil || s.GraphID != orphan.ID || string(key.ClientStateHash) != string(store.ClientStateHash("orphan-state")) {
		t.Fatalf("adopted: %+v %v", s, err)
	}

	// No users left: the subscription goes.
	ensure(nil, engine.Removed)
	if g := atGraph(); len(g) != 0 {
		t.Errorf("Graph still holds %d subscriptions", len(g))
	}
	if _, err := st.SubscriptionForMonitor(ctx, tenant, mon.ID); err == nil {
		t.Error("our row survived the removal")
	}
}

// After a gap, Repair reads presence and stores only what differs.
func TestRepairFillsWhatNotificationsMissed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st, _, tenant := ourTenant(t, e.Tenant.ID)
	pool := st.Pool()
	users := e.UserIDs()
	// Changes happened while nothing listened.
	e.Sim.SetTeamsPresence(e.Tenant.Users[0].ID, "Busy", "InACall")
	e.Sim.SetTeamsPresence(e.Tenant.Users[1].ID, "Away", "Away")
	c, _ := e.app()
	stats, err := engine.Repair(ctx, st, c, tenant, users)
	if err != nil || stats.Read != len(users) || stats.Changed != len(users) {
		t.Fatalf("first repair = %+v %v (every user is new to us)", stats, err)
	}
	p, err := st.GetPresence(ctx, tenant, e.Tenant.Users[0].ID)
	if err != nil || p.Activity != "InACall" || p.MappedState != "talking" {
		t.Errorf("repaired presence = %+v %v", p, err)
	}
	var source string
	pool.QueryRow(ctx, `SELECT source FROM presence_events WHERE user_object_id = $1`, e.Tenant.Users[0].ID).Scan(&source)
	if source != "repair" {
		t.Errorf("event source = %q", source)
	}
	// Nothing changed since: a second repair stores nothing.
	if stats, err := engine.Repair(ctx, st, c, tenant, users); err != nil || stats.Changed != 0 {
		t.Errorf("second repair = %+v %v", stats, err)
	}
	e.Sim.SetTeamsPresence(e.Tenant.Users[1].ID, "Available", "Available")
	if stats, _ := engine.Repair(ctx, st, c, tenant, users); stats.Changed != 1 {
		t.Errorf("after one change: %+v", stats)
	}
}

// sameUsers reports whether a presence resource watches exactly ids.
func sameUsers(resource string, ids []string) bool {
	if strings.Count(resource, "'") != 2*len(ids) {
		return false
	}
	for _, id := range ids {
		if !strings.Contains(resource, "'"+id+"'") {
			return false
		}
	}
	return true
}
