package deliver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
)

// repairBurst records, for each tenant, users' changes in one batch, as a
// repair does, and returns the users by tenant.
func (f *fixture) repairBurst(t *testing.T, tenants []uuid.UUID, users int, availability string) map[uuid.UUID][]uuid.UUID {
	t.Helper()
	ctx := context.Background()
	out := map[uuid.UUID][]uuid.UUID{}
	for _, tenant := range tenants {
		cs := make([]store.PresenceChange, users)
		for i := range cs {
			u := uuid.NewSHA1(tenant, fmt.Appendf(nil, "%d", i))
			out[tenant] = append(out[tenant], u)
			cs[i] = store.PresenceChange{TenantID: tenant, UserID: u, Availability: availability, Activity: availability,
				MappedState: "busy", Source: "repair", ObservedAt: time.Now()}
		}
		if err := f.st.InTx(ctx, func(tx store.Tx) error {
			_, _, err := tx.ApplyPresenceBatch(ctx, cs)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestWebhooksToManyEndpointsAtOneHostReuseTheirConnections(t *testing.T) {
	f := newFixture(t)
	var dialled atomic.Int64
	r := newReceiver(t, nil)
	r.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dialled.Add(1)
		}
	}
	// 20 tenants, each with its endpoint at the same receiver (a telephony
	// platform's one host), and a burst of 40 users each.
	tenants := []uuid.UUID{f.tenant}
	for i := 1; i < 20; i++ {
		tenants = append(tenants, storetest.Tenant(t, f.pool, fmt.Sprintf("Tenant %d", i)))
	}
	for _, tenant := range tenants {
		f.endpoint(t, tenant, r)
	}
	f.repairBurst(t, tenants, 40, "Busy")
	const workers = 16
	d := New(f.st, Options{AllowPrivate: true, Workers: workers})
	for n := 0; n < 800; {
		got, err := d.RunOnce(context.Background())
		if err != nil || got == 0 {
			t.Fatalf("RunOnce = %d, %v after %d", got, err, n)
		}
		n += got
	}
	if got := len(r.all()); got != 800 {
		t.Fatalf("received %d webhooks, want 800", got)
	}
	// At most one connection per request at once: with an idle pool of a
	// host's connections as small as one endpoint's share (4), sends beyond
	// 4 closed theirs and the next dialled anew (75 connections here).
	if n := dialled.Load(); n > 2*workers {
		t.Errorf("%d connections dialled for 800 webhooks to one host with %d workers, want at most %d", n, workers, 2*workers)
	}
}

func TestAClaimSharesItsLimitBetweenEndpointsAndSaysWhenMoreAreDue(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := newReceiver(t, nil)
	tenants := []uuid.UUID{f.tenant, storetest.Tenant(t, f.pool, "Fabrikam"), storetest.Tenant(t, f.pool, "Northwind")}
	endpoints := map[uuid.UUID]uuid.UUID{}
	for _, tenant := range tenants {
		endpoints[f.endpoint(t, tenant, r)] = tenant
	}
	// Two endpoints with 10 users due, the third with 1.
	f.repairBurst(t, tenants[:2], 10, "Busy")
	f.repairBurst(t, tenants[2:], 1, "Busy")

	// A limit of 4 over three endpoints: 2 each at most (the third has
	// only 1), the oldest 4 of those, and more left due.
	got, more, err := f.st.ClaimDeliveries(ctx, 4, time.Minute, nil, 10, nil)
	if err != nil || len(got) != 4 || !more {
		t.Fatalf("claimed %d, more %v (%v); want 4 and more", len(got), more, err)
	}
	per := map[uuid.UUID]int{}
	for _, dl := range got {
		per[dl.EndpointID]++
	}
	for ep, n := range per {
		if n > 2 {
			t.Errorf("endpoint of %s got %d of a claim of 4 over 3 endpoints, want at most 2", endpoints[ep], n)
		}
	}
	// Claims go on while more are due: every delivery once, and the
	// endpoints' caps (busy) hold.
	busy := map[uuid.UUID]int{}
	for _, dl := range got {
		busy[dl.EndpointID]++
	}
	total := len(got)
	for more {
		got, more, err = f.st.ClaimDeliveries(ctx, 4, time.Minute, nil, 10, busy)
		if err != nil {
			t.Fatal(err)
		}
		for _, dl := range got {
			if busy[dl.EndpointID]++; busy[dl.EndpointID] > 10 {
				t.Fatalf("endpoint of %s has %d claimed, over its cap of 10", endpoints[dl.EndpointID], busy[dl.EndpointID])
			}
		}
		total += len(got)
	}
	if total != 21 {
		t.Errorf("claimed %d deliveries in all, want 21", total)
	}
	if got, more, err := f.st.ClaimDeliveries(ctx, 4, time.Minute, nil, 10, nil); len(got) != 0 || more || err != nil {
		t.Errorf("a claim with everything leased took %d, more %v (%v)", len(got), more, err)
	}
}
