package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// A claim finds the endpoints with something due in one of two ways: from
// the due deliveries themselves while fewer are due than it may take (8
// here), or by walking every endpoint with something pending. Either way an endpoint's backlog, older than
// everything else, does not keep the other endpoints from their share, and
// of a user's deliveries to an endpoint only the oldest is claimed.
func TestAClaimIsFairAcrossEndpointsAndInOrderPerUserWithFewOrManyDue(t *testing.T) {
	for _, backlog := range []int{4, 30} {
		t.Run(fmt.Sprintf("%d users waiting at one endpoint", backlog), func(t *testing.T) {
			ctx := context.Background()
			st, first := storetest.New(t)
			tenants := []uuid.UUID{first, storetest.Tenant(t, st.Pool(), "Fabrikam"), storetest.Tenant(t, st.Pool(), "Northwind")}
			var eps []uuid.UUID
			for _, tenant := range tenants {
				ep, err := st.CreateEndpoint(ctx, tenant, "https://a.example/hook", "whsec_dGVzdA==")
				if err != nil {
					t.Fatal(err)
				}
				eps = append(eps, ep.ID)
			}
			apply := func(cs ...store.PresenceChange) {
				t.Helper()
				storetest.Apply(t, st, cs)
			}
			change := func(tenant, user uuid.UUID, state string) store.PresenceChange {
				return store.PresenceChange{TenantID: tenant, UserID: user, Availability: state, Activity: state, MappedState: "busy",
					Source: "notification", ObservedAt: time.Now()}
			}
			// The first endpoint's backlog, oldest of all; then a user with
			// two changes at the second, and one user at the third.
			var cs []store.PresenceChange
			for range backlog {
				cs = append(cs, change(tenants[0], uuid.New(), "Busy"))
			}
			apply(cs...)
			ann := uuid.New()
			apply(change(tenants[1], ann, "Busy"))
			apply(change(tenants[1], ann, "Away"))
			apply(change(tenants[2], uuid.New(), "Busy"))

			got, more, err := st.ClaimDeliveries(ctx, 8, time.Minute, nil, 10, nil)
			if err != nil || len(got) != 5 || !more {
				t.Fatalf("claimed %d, more %v (%v); want 5 and more", len(got), more, err)
			}
			per := map[uuid.UUID][]int64{}
			for _, d := range got {
				per[d.EndpointID] = append(per[d.EndpointID], d.Event.Sequence)
			}
			if n := len(per[eps[0]]); n != 3 {
				t.Errorf("the endpoint with the backlog got %d of 8, want its share of 3", n)
			}
			if s := per[eps[1]]; len(s) != 1 || s[0] != 1 {
				t.Errorf("the endpoint whose user changed twice got sequences %v, want only the first", s)
			}
			if n := len(per[eps[2]]); n != 1 {
				t.Errorf("the third endpoint got %d, want its one", n)
			}
		})
	}
}

// A claim is planned once per connection and never compiled. Planned for
// its arguments at every execution, planning was half of a claim's CPU
// (BenchmarkClaimingAtAThousandEndpointsWithSomethingPending). And with
// statistics taken while many deliveries were pending, the claim's
// estimated cost passed jit_above_cost and every claim of 20 compiled 184
// functions, 232 ms of the database's CPU (EXPLAIN ANALYZE's JIT timing).
func TestAClaimIsPlannedOncePerConnectionAndNeverCompiled(t *testing.T) {
	ctx := context.Background()
	pool, _ := oneBackend(t, nil)
	st := storetest.Open(t, pool)
	tenant := storetest.Tenant(t, pool, "Contoso")
	if _, err := st.CreateEndpoint(ctx, tenant, "https://a.example/hook", "whsec_dGVzdA=="); err != nil {
		t.Fatal(err)
	}
	const claims = 3
	for range claims {
		publish(t, st, tenant, uuid.New(), "InACall")
		if got, _, err := st.ClaimDeliveries(ctx, 8, time.Minute, nil, 4, nil); err != nil || len(got) != 1 {
			t.Fatalf("claimed %d (%v), want 1", len(got), err)
		}
	}
	var custom, generic int
	// Not this statement itself, which the pattern matches too.
	if err := pool.QueryRow(ctx, `SELECT custom_plans, generic_plans FROM pg_prepared_statements
		WHERE statement LIKE '%WITH RECURSIVE sample AS%' AND statement NOT LIKE '%pg_prepared_statements%'`).Scan(&custom, &generic); err != nil {
		t.Fatal(err)
	}
	if custom != 0 || generic != claims {
		t.Errorf("%d claims planned %d times for their arguments and %d from the connection's plan; want 0 and %d",
			claims, custom, generic, claims)
	}
	jit, planCache, err := st.ClaimSettings(ctx)
	if err != nil || jit != "off" || planCache != "force_generic_plan" {
		t.Errorf("a claim ran with jit %q, plan_cache_mode %q (%v); want off and force_generic_plan", jit, planCache, err)
	}
}

// A claim sets the lease and nothing an index holds, so its update is
// heap-only: no entry in any of the delivery's five indexes (migration
// 000061; the claim moved next_attempt_at before, 18–20 buffers a
// delivery). The delivery stays due by its schedule, so what keeps a
// second claim from taking it is the lease alone, until it runs out; the
// endpoint's log shows it next tried when the lease ends.
func TestAClaimWritesNoIndexEntryAndHoldsTheDeliveryUntilItsLeaseRunsOut(t *testing.T) {
	ctx := context.Background()
	st, tenant, ep, _ := anEndpointAndAUsersPresence(t)
	const lease = 2 * time.Second
	got, _, err := st.ClaimDeliveries(ctx, 8, lease, nil, 4, nil)
	if err != nil || len(got) != 1 {
		t.Fatalf("claimed %d (%v), want 1", len(got), err)
	}
	claimedAt := time.Now()
	// pageinspect reads the row's line pointer on its page: a heap-only
	// tuple (HEAP_ONLY_TUPLE in t_infomask2) has no index entry of its own.
	testkit.Exec(t, st.Pool(), `CREATE EXTENSION IF NOT EXISTS pageinspect`)
	var heapOnly, due bool
	if err := st.Pool().QueryRow(ctx, `SELECT (p.t_infomask2 & x'8000'::int) <> 0, d.next_attempt_at <= now()
		FROM deliveries d, heap_page_items(get_raw_page('deliveries', (d.ctid::text::point)[0]::int)) p
		WHERE d.id = $1 AND p.lp = (d.ctid::text::point)[1]::int`, got[0].ID).Scan(&heapOnly, &due); err != nil {
		t.Fatal(err)
	}
	if !heapOnly || !due {
		t.Errorf("after the claim the delivery is heap-only %v and due by its schedule %v; want both", heapOnly, due)
	}
	logged, err := st.EndpointDeliveries(ctx, tenant, ep.ID, store.DeliveryPage{Limit: 1})
	if err != nil || len(logged) != 1 || logged[0].NextAttemptAt == nil || !logged[0].NextAttemptAt.Equal(got[0].Lease) {
		t.Errorf("the endpoint's log shows the claimed delivery %+v (%v); want it next tried when its lease ends, %v", logged, err, got[0].Lease)
	}
	if again, _, err := st.ClaimDeliveries(ctx, 8, lease, nil, 4, nil); err != nil || len(again) != 0 {
		t.Errorf("a second claim while the lease holds took %d (%v), want none", len(again), err)
	}
	time.Sleep(time.Until(claimedAt.Add(lease + 100*time.Millisecond)))
	again, _, err := st.ClaimDeliveries(ctx, 8, lease, nil, 4, nil)
	if err != nil || len(again) != 1 || again[0].ID != got[0].ID || !again[0].Lease.After(got[0].Lease) {
		t.Errorf("once the lease ran out a claim took %d (%v), want the same delivery under a new lease", len(again), err)
	}
}
