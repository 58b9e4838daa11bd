package enginetest

import (
	"context"
	"testing"
	"time"
)

// Each tenant a pass works on holds a pooled connection for its lock for
// the whole pass and needs others for its queries. With as many tenants at
// once (RunnerOptions.Parallel, 4) as the pool has connections — pgxpool's
// default on a machine of up to 4 cores, or PB_DB_MAX_CONNS=4 — every
// pass held a lock and waited for a query connection forever (found by
// the fleet test, whose pool first had pgxpool's default of 4).
func TestAPassOverTenantsFinishesWithAPoolOfAsManyConnectionsAsTenantsAtOnce(t *testing.T) {
	f := newFleet(t, fleetOptions{monitors: []int{1, 1, 1, 1, 1, 1, 1, 1}, usersPer: 2})
	w := f.runnerWithConns(4)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := w.Cycle(ctx); err != nil {
		t.Fatalf("pass over 8 tenants with 4 connections: %v", err)
	}
	if n := len(f.e.Sim.Subscriptions()); n != 8 {
		t.Errorf("%d subscriptions after the pass, want 8", n)
	}
}
