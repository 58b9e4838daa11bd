package store_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// BenchmarkClaimingAtAThousandEndpointsWithSomethingPending is the
// delivery claim in the load run's state at 1,000 changes a second
// (issue 16): 1,000 endpoints, each with a delivery pending but not due
// (a retry an hour away; in the load run, deliveries being sent and their
// users' next ones), and at each claim 20 changes just made at 20 of them
// (the load run's ~16–23 a claim). Each iteration claims them and records
// them delivered, as the deliverer does. It reports the database's CPU
// per delivery for the claim and for the record, read from the one
// backend's schedstat (nanoseconds, not /proc's clock ticks).
func BenchmarkClaimingAtAThousandEndpointsWithSomethingPending(b *testing.B) {
	const endpoints, perClaim = 1000, 20
	ctx := context.Background()
	pool, pid := oneBackend(b, nil)
	st := storetest.Open(b, pool)
	ids := make([]uuid.UUID, endpoints)
	for i := range ids {
		ids[i] = storetest.Tenant(b, pool, fmt.Sprintf("Tenant %d", i))
		if _, err := st.CreateEndpoint(ctx, ids[i], "https://a.example/hook", "whsec_dGVzdA=="); err != nil {
			b.Fatal(err)
		}
	}
	apply := func(tenants []uuid.UUID, user string, state string) {
		cs := make([]store.PresenceChange, len(tenants))
		for i, t := range tenants {
			cs[i] = store.PresenceChange{TenantID: t, UserID: uuid.NewSHA1(t, []byte(user)), Availability: state, Activity: state,
				MappedState: strings.ToLower(state), Source: "notification", ObservedAt: time.Now()}
		}
		storetest.Apply(b, st, cs)
	}
	apply(ids, "waiting", "Away")
	testkit.Exec(b, pool, `UPDATE deliveries SET next_attempt_at = now() + interval '1 hour'`)
	testkit.Exec(b, pool, `ANALYZE deliveries`)
	var claimCPU, recordCPU time.Duration
	var claimed int
	states := []string{"Busy", "Available"}
	i := 0
	for b.Loop() {
		b.StopTimer()
		at := i * perClaim % endpoints
		apply(ids[at:at+perClaim], strconv.Itoa(i), states[i%2])
		i++
		b.StartTimer()
		c0 := backendCPU(b, pid)
		got, _, err := st.ClaimDeliveries(ctx, 256, time.Minute, nil, 32, nil)
		if err != nil || len(got) != perClaim {
			b.Fatalf("claimed %d (%v), want %d", len(got), err, perClaim)
		}
		c1 := backendCPU(b, pid)
		if err := delivered(ctx, st, got); err != nil {
			b.Fatal(err)
		}
		c2 := backendCPU(b, pid)
		claimCPU += c1 - c0
		recordCPU += c2 - c1
		claimed += len(got)
	}
	b.ReportMetric(float64(claimCPU.Microseconds())/float64(claimed), "µs-cpu-db-claim/delivery")
	b.ReportMetric(float64(recordCPU.Microseconds())/float64(claimed), "µs-cpu-db-record/delivery")
}

// oneBackend opens a pool of one connection, configured as the product's
// (and by configure, if not nil), to a new database, and returns it with
// the pid of its one backend: the process whose CPU a benchmark reads.
func oneBackend(b testing.TB, configure func(*pgxpool.Config)) (*pgxpool.Pool, int) {
	b.Helper()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(testkit.NewDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns, cfg.MinConns = 1, 1
	store.ConfigurePool(cfg)
	if configure != nil {
		configure(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	var pid int
	if err := pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		b.Fatal(err)
	}
	return pool, pid
}

// backendCPU is how long the server process pid has run on a CPU, from
// /proc/pid/schedstat (the server runs on this machine).
func backendCPU(b testing.TB, pid int) time.Duration {
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/schedstat", pid))
	if err != nil {
		b.Fatal(err)
	}
	ns, err := strconv.ParseInt(strings.Fields(string(s))[0], 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return time.Duration(ns)
}
