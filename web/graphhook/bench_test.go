package graphhook

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/intake"
	"presencebridge/internal/pgembed"
	"presencebridge/internal/store"
	"presencebridge/internal/store/schema"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// durableServer is a PostgreSQL with fsync on, on this machine: what the
// intake's throughput is promised on (the tests' server runs fsync off).
func durableServer(b *testing.B) *pgxpool.Pool {
	b.Helper()
	dir, err := os.MkdirTemp("", "pb-bench-pg-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o711)
	ctx := context.Background()
	opts := pgembed.Options{DataDir: filepath.Join(dir, "data"), Durable: true, MaxConnections: 100}
	if statementsWanted() {
		opts.Settings = map[string]string{"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.track": "all",
			"pg_stat_statements.track_planning": "on"}
	}
	srv, err := pgembed.Start(ctx, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Stop() })
	if err := srv.EnsureDatabase(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	cfg, _ := pgxpool.ParseConfig(srv.DSN("bench"))
	cfg.MaxConns = 20
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if err := schema.Up(ctx, pool, slog.New(slog.DiscardHandler)); err != nil {
		b.Fatal(err)
	}
	if statementsWanted() {
		testkit.Exec(b, pool, `CREATE EXTENSION pg_stat_statements`)
	}
	return pool
}

// statementsWanted: PB_BENCH_STATEMENTS=1 makes the durable server track
// statements (pg_stat_statements) and the end-to-end benchmark log where
// PostgreSQL's time went — a diagnosis, off by default as tracking costs.
// Planning is tracked too: a statement planned at every execution (an
// unnamed one, pgx.QueryExecModeCacheDescribe) can spend as long planning
// as executing, which its execution time alone hides.
func statementsWanted() bool { return os.Getenv("PB_BENCH_STATEMENTS") == "1" }

// logStatements logs the statements that took most of the server's time
// (planning and execution) since reset, per call and in total.
func logStatements(ctx context.Context, b *testing.B, pool *pgxpool.Pool) {
	rows, err := pool.Query(ctx, `SELECT calls, round(total_exec_time::numeric, 1), round((total_exec_time / calls)::numeric, 3),
		round((total_plan_time / calls)::numeric, 3), rows, regexp_replace(query, '\s+', ' ', 'g')
		FROM pg_stat_statements WHERE calls > 0 ORDER BY total_exec_time + total_plan_time DESC LIMIT 15`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var out strings.Builder
	out.WriteString("statements by total time (calls, total exec ms, exec ms/call, plan ms/call, rows, query):")
	for rows.Next() {
		var calls, nrows int64
		var total, per, plan float64
		var q string
		if err := rows.Scan(&calls, &total, &per, &plan, &nrows, &q); err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(&out, "\n%7d %9.1f %7.3f %7.3f %7d  %s", calls, total, per, plan, nrows, q)
	}
	// To stderr: the testing package cuts a benchmark's long logs short.
	fmt.Fprintln(os.Stderr, out.String())
}

// benchReceiver serves the receiver on loopback with one subscription,
// telling prio (optional) of the POSTs it serves.
func benchReceiver(b *testing.B, prio *intake.Priority) (string, *pgxpool.Pool) {
	b.Helper()
	pool := durableServer(b)
	ctx := context.Background()
	st := storetest.Open(b, pool)
	tenant := storetest.Tenant(b, pool, "Bench")
	m, err := st.AddMonitor(ctx, tenant, "m@bench.example")
	if err != nil {
		b.Fatal(err)
	}
	testkit.Exec(b, pool, `INSERT INTO subscriptions (tenant_id, monitor_id, graph_id, resource, client_state_hash) VALUES ($1, $2, 'sub-1', 'r', $3)`,
		tenant, m.ID, store.ClientStateHash("state-1"))
	c := intake.NewCommitter(pool, intake.CommitterOptions{})
	cctx, cancel := context.WithCancel(ctx)
	b.Cleanup(cancel)
	go c.Run(cctx)
	r := chi.NewRouter()
	// BenchmarkIntakeThroughput sends 16 POSTs per core at once: the
	// limit of POSTs served at once is not what it measures.
	r.Route("/graph", New(Deps{Subs: st, Committer: c, MaxRequests: 16 * runtime.GOMAXPROCS(0), Priority: prio}).Routes)
	srv := httptest.NewServer(r)
	b.Cleanup(srv.Close)
	return srv.URL + "/graph/notifications", pool
}

// batchBody is one POST of n rich-sized presence items (about the size of
// real encrypted items).
func batchBody(n int) []byte {
	filler := strings.Repeat("A", 1400) // the encryptedContent of one item
	items := make([]string, n)
	for i := range items {
		u := uuid.NewString()
		items[i] = fmt.Sprintf(`{"subscriptionId":"sub-1","subscriptionExpirationDateTime":"2026-11-23T10:00:00.0000000Z","changeType":"updated",
"clientState":"state-1","resource":"communications/presences/%s","tenantId":"t","resourceData":{"@odata.type":"#Microsoft.Graph.presence",
"@odata.id":"users/%s/presence","id":"%s"},"encryptedContent":{"data":"%s","dataKey":"k","dataSignature":"s","encryptionCertificateId":"c"}}`,
			u, u, u, filler)
	}
	return []byte(`{"value":[` + strings.Join(items, ",") + `],"validationTokens":["eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.e30.sig"]}`)
}

// BenchmarkIntakeThroughput: concurrent POSTs of 50 items each, as Graph
// batches them, committed durably before each 202.
func BenchmarkIntakeThroughput(b *testing.B) {
	url, pool := benchReceiver(b, nil)
	body := batchBody(50)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var posts atomic.Int64
	ctx := context.Background()
	if statementsWanted() {
		testkit.Exec(b, pool, `SELECT pg_stat_statements_reset()`)
	}
	var wal0 string
	pool.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&wal0)
	b.SetParallelism(16)
	b.ResetTimer()
	cpu0 := testkit.ProcessCPU()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			posts.Add(1)
		}
	})
	elapsed := time.Since(start)
	cpu := testkit.ProcessCPU() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(posts.Load()*50)/elapsed.Seconds(), "notifications/s")
	// What each item cost beside the rate, which a shared machine moves:
	// this process's CPU (receiver and senders) and the WAL written.
	var wal float64
	pool.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)`, wal0).Scan(&wal)
	if n := float64(posts.Load() * 50); n > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/item")
		b.ReportMetric(wal/n, "wal-B/item")
	}
	if statementsWanted() {
		logStatements(ctx, b, pool)
	}
	var items int
	pool.QueryRow(context.Background(), `SELECT coalesce(sum(items), 0) FROM inbox`).Scan(&items)
	if int64(items) != posts.Load()*50 {
		b.Errorf("inbox holds %d items, %d were acknowledged", items, posts.Load()*50)
	}
}

// BenchmarkIntakeAckLatencyAt5000: 5,000 notifications/s (100 POSTs/s of 50
// items) for 5 s; reports the acknowledgement latency's p50 and p99. Alone,
// and beside processors that keep every core busy as serve's do at that
// rate (more than 2 cores can decrypt): without intake.Priority, and with
// it (unwraps/s says how much processing went on meanwhile).
func BenchmarkIntakeAckLatencyAt5000(b *testing.B) {
	b.Run("alone", func(b *testing.B) { ackLatencyAt5000(b, nil, false) })
	b.Run("beside-processors", func(b *testing.B) { ackLatencyAt5000(b, nil, true) })
	b.Run("beside-processors-with-priority", func(b *testing.B) { ackLatencyAt5000(b, intake.NewPriority(intake.PriorityOptions{}), true) })
}

func ackLatencyAt5000(b *testing.B, prio *intake.Priority, processors bool) {
	url, _ := benchReceiver(b, prio)
	body := batchBody(50)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for b.Loop() {
		var unwraps func() int64
		if processors {
			unwraps = busyProcessors(b, prio)
		}
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		start := time.Now()
		tick := time.NewTicker(10 * time.Millisecond) // 100 POSTs/s
		for range 500 {
			<-tick.C
			wg.Go(func() {
				t0 := time.Now()
				resp, err := client.Post(url, "application/json", bytes.NewReader(body))
				d := time.Since(t0)
				if err != nil || resp.StatusCode != http.StatusAccepted {
					b.Errorf("POST: %v", err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			})
		}
		tick.Stop()
		wg.Wait()
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		if unwraps != nil {
			b.ReportMetric(float64(unwraps())/time.Since(start).Seconds(), "unwraps/s")
		}
	}
}
