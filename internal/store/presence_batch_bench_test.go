package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
)

// BenchmarkNotificationBatchesAt1000Tenants is PostgreSQL's part of the
// processor's write path at the load run's shape (issue 16): 1,000
// tenants with an endpoint each and 100 users each, every user with a
// published event delivered before, and batches of changes of users
// drawn at random among the 100,000 — nearly every change another
// tenant's, as at a million users — each applied as the processor
// applies them (ApplyPresenceBatch in a transaction of its own). Per
// change it reports the CPU time of the PostgreSQL backend that ran them
// (its /proc schedstat: the host's load does not inflate it as it does
// wall time), the shared buffers it touched and the WAL it wrote.
//
// PB_BENCH_PERF=PREFIX records perf samples of the backend while each
// size is measured (PREFIX-<benchmark>.data). PB_BENCH_EXPLAIN=FILE writes to FILE auto_explain's plan of every
// statement (nested ones too: foreign key checks) of one batch of each
// size, with buffers and WAL.
func BenchmarkNotificationBatchesAt1000Tenants(b *testing.B) {
	const tenants, usersPerTenant = 1000, 100
	ctx := context.Background()
	var notices strings.Builder
	pool, backend := oneBackend(b, func(cfg *pgxpool.Config) {
		cfg.ConnConfig.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices.WriteString(n.Message + "\n") }
	})
	st := storetest.Open(b, pool)
	secret, err := st.PutSecret(ctx, nil, store.PurposeSigningSecret, []byte("whsec_x"))
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO tenants (name) SELECT 'Tenant ' || i FROM generate_series(1, ` + strconv.Itoa(tenants) + `) i`,
		`INSERT INTO endpoints (tenant_id, url, signing_secret_id) SELECT id, 'https://x.example/hook', '` + secret.String() + `' FROM tenants`,
		`INSERT INTO presence (tenant_id, user_object_id, availability, activity, sequence, observed_at, mapped_state)
			SELECT t.id, gen_random_uuid(), 'Offline', 'Offline', 1, now(), 'offline' FROM tenants t, generate_series(1, ` + strconv.Itoa(usersPerTenant) + `)`,
		`INSERT INTO presence_events (tenant_id, user_object_id, sequence, position, availability, activity, mapped_state, source, observed_at)
			SELECT tenant_id, user_object_id, 1, row_number() OVER (PARTITION BY tenant_id ORDER BY user_object_id), 'Offline', 'Offline',
				'offline', 'notification', now() FROM presence ORDER BY tenant_id, user_object_id`,
		`INSERT INTO event_streams (tenant_id, position) SELECT tenant_id, count(*) FROM presence GROUP BY tenant_id`,
		`INSERT INTO deliveries (tenant_id, endpoint_id, event_id, user_object_id, status, delivered_at)
			SELECT e.tenant_id, ep.id, e.id, e.user_object_id, 'delivered', now() FROM presence_events e JOIN endpoints ep USING (tenant_id)`,
		`VACUUM ANALYZE`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	rows, err := pool.Query(ctx, `SELECT tenant_id, user_object_id FROM presence`)
	if err != nil {
		b.Fatal(err)
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]uuid.UUID, error) {
		var k [2]uuid.UUID
		return k, r.Scan(&k[0], &k[1])
	})
	if err != nil {
		b.Fatal(err)
	}
	states := []string{"Available", "Busy", "Away", "DoNotDisturb"}
	rng := rand.New(rand.NewPCG(1, 2))
	round := 0
	apply := func(size int) {
		round++
		cs := make([]store.PresenceChange, size)
		for i := range cs {
			u := users[rng.IntN(len(users))]
			s := states[(round+i)%len(states)]
			cs[i] = store.PresenceChange{TenantID: u[0], UserID: u[1], Availability: s, Activity: s, MappedState: strings.ToLower(s),
				Source: "notification", ObservedAt: time.Now()}
		}
		storetest.Apply(b, st, cs)
	}
	for _, size := range []int{1, 4, 40} {
		b.Run(fmt.Sprintf("batches of %d", size), func(b *testing.B) {
			for range 200 / size { // warm the backend's caches and plans
				apply(size)
			}
			if file := os.Getenv("PB_BENCH_EXPLAIN"); file != "" {
				explain(b, pool, &notices, file, func() { apply(size) })
			}
			cpu0, blocks0, wal0 := backendCounters(b, pool, backend)
			stop := perfRecord(b, backend)
			for b.Loop() {
				apply(size)
			}
			stop()
			cpu1, blocks1, wal1 := backendCounters(b, pool, backend)
			n := float64(b.N * size)
			b.ReportMetric(float64(cpu1-cpu0)/1e3/n, "pg-µs/change")
			b.ReportMetric(float64(blocks1-blocks0)/n, "blocks/change")
			b.ReportMetric(float64(wal1-wal0)/n, "WAL-B/change")
		})
	}
}

// backendCounters reads the CPU time (ns) of the backend with pid, the
// shared buffers its database's backends touched and the WAL written so
// far, its statistics flushed first.
func backendCounters(b *testing.B, pool *pgxpool.Pool, pid int) (cpu, blocks, wal int64) {
	b.Helper()
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
		b.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT blks_hit + blks_read, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint
		FROM pg_stat_database WHERE datname = current_database()`).Scan(&blocks, &wal); err != nil {
		b.Fatal(err)
	}
	return int64(backendCPU(b, pid)), blocks, wal
}

// explain runs fn with auto_explain logging every statement's plan, with
// buffers and WAL, to the client, and appends what it said to file.
func explain(b *testing.B, pool *pgxpool.Pool, notices *strings.Builder, file string, fn func()) {
	b.Helper()
	ctx := context.Background()
	set := `LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on;
		SET auto_explain.log_buffers = on; SET auto_explain.log_wal = on; SET auto_explain.log_nested_statements = on;
		SET auto_explain.log_triggers = on; SET client_min_messages = log`
	if _, err := pool.Exec(ctx, set); err != nil {
		b.Fatal(err)
	}
	notices.Reset()
	fn()
	if _, err := pool.Exec(ctx, `SET auto_explain.log_min_duration = -1; RESET client_min_messages`); err != nil {
		b.Fatal(err)
	}
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "-- %s\n%s", b.Name(), notices.String()); err != nil {
		b.Fatal(err)
	}
}

// perfRecord, with PB_BENCH_PERF=PREFIX, records perf samples of the
// backend with pid into PREFIX-<benchmark>.data until stop is called.
func perfRecord(b *testing.B, pid int) (stop func()) {
	prefix := os.Getenv("PB_BENCH_PERF")
	if prefix == "" {
		return func() {}
	}
	out := prefix + "-" + strings.NewReplacer("/", "_", " ", "_").Replace(b.Name()) + ".data"
	cmd := exec.Command("perf", "record", "-e", "cpu-clock", "-F", "2000", "-g", "-p", strconv.Itoa(pid), "-o", out)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	return func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
	}
}
