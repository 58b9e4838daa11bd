package enginetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"presencebridge/internal/certs"
	"presencebridge/internal/engine"
	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

// Renew (the tenant pages): an admin's request makes the engine's next
// Ensure renew the subscription at Graph long before its point before
// expiry, once; the request is then gone.
func TestARequestedRenewalIsDoneByTheNextEnsureAndThenCleared(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st, _, tenant := ourTenant(t, e.Tenant.ID)
	mon, err := st.AddMonitor(ctx, tenant, e.Tenant.Monitors[0].UPN)
	if err != nil {
		t.Fatal(err)
	}
	wh := testkit.NewNotificationReceiver(t)
	eng := engine.New(st, certs.New(st, e.Now), wh.URL, wh.URL, e.Now)
	c, _ := e.monitor(0)
	users := e.UserIDs()[:2]

	if _, err := st.RequestRenewal(ctx, tenant, mon.ID); !errors.Is(err, store.ErrNothingToRenew) {
		t.Fatalf("renewal of a monitor without a subscription: %v, want ErrNothingToRenew", err)
	}
	if out, err := eng.Ensure(ctx, c, tenant, mon.ID, users); err != nil || out != engine.Created {
		t.Fatalf("create: %s %v", out, err)
	}
	e.Advance(5 * time.Minute) // 50 minutes before expiry: not due
	c, _ = e.monitor(0)
	if out, _ := eng.Ensure(ctx, c, tenant, mon.ID, users); out != engine.Unchanged {
		t.Fatalf("not due and not asked: %s", out)
	}
	before, _ := st.SubscriptionForMonitor(ctx, tenant, mon.ID)

	if _, err := st.RequestRenewal(ctx, tenant, mon.ID); err != nil {
		t.Fatal(err)
	}
	if s, _ := st.SubscriptionForMonitor(ctx, tenant, mon.ID); !s.RenewRequested {
		t.Fatal("the request is not recorded")
	}
	if out, err := eng.Ensure(ctx, c, tenant, mon.ID, users); err != nil || out != engine.Renewed {
		t.Fatalf("asked to renew: %s %v, want renewed", out, err)
	}
	after, _ := st.SubscriptionForMonitor(ctx, tenant, mon.ID)
	subs, err := c.ListSubscriptions(ctx)
	if err != nil || len(subs) != 1 || !subs[0].ExpiresAt.Equal(*after.ExpiresAt) || !after.ExpiresAt.After(*before.ExpiresAt) {
		t.Fatalf("expiry was %v, now ours %v, Graph's %+v (%v)", before.ExpiresAt, after.ExpiresAt, subs, err)
	}
	if after.RenewRequested {
		t.Error("the request is still open after the renewal")
	}
	if out, _ := eng.Ensure(ctx, c, tenant, mon.ID, users); out != engine.Unchanged {
		t.Errorf("after the requested renewal the next pass did %s, want unchanged", out)
	}
}
