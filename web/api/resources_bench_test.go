package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// Benchmarks of the tenant's resources (BENCHMARKS.md): the API served on
// loopback as the product serves it (rate limit, key check, idempotency;
// no description checker), PostgreSQL on the same machine.

// benchAPI serves the resources over a fresh database with one tenant and
// an all-scopes key, whose rate limit does not bind. The pool has the
// product's default size (PB_DB_MAX_CONNS), not the tests' smaller one,
// and is configured as the product's (store.ConfigurePool): without it
// every id reached pgx as a driver.Valuer again once 555f40b passed them
// as uuid.UUID — 19 more allocations a single read (95, not 76) that the
// product does not make.
func benchAPI(b *testing.B) (srv *httptest.Server, st *store.Store, tenant uuid.UUID, key string) {
	b.Helper()
	cfg, err := pgxpool.ParseConfig(testkit.NewDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 20
	store.ConfigurePool(cfg)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	st = storetest.Open(b, pool)
	tenant = storetest.Tenant(b, pool, "Contoso")
	key, _, err = st.CreateAPIKey(context.Background(), tenant, store.NewAPIKey{Name: "bench", Scopes: store.AllScopes})
	if err != nil {
		b.Fatal(err)
	}
	d := Deps{Store: st, Keys: runningKeys(b, st), Logger: slog.New(slog.DiscardHandler), RateLimit: 1_000_000}
	srv = httptest.NewServer(resourceRoutes(d, Resources{}))
	b.Cleanup(srv.Close)
	return srv, st, tenant, key
}

// cpuMeter reads the CPU time this process and the PostgreSQL backends of
// its database have used (Linux /proc; clock ticks, 10 ms): beside the
// wall time, what a run cost, which on a shared host says more than the
// wall time (other processes' load does not count here).
type cpuMeter struct {
	st    *store.Store
	start time.Duration
}

func newCPUMeter(b *testing.B, st *store.Store) *cpuMeter {
	m := &cpuMeter{st: st}
	m.start = m.used(b)
	return m
}

// used is the CPU time spent so far by this process and the database's
// backends now connected.
func (m *cpuMeter) used(b *testing.B) time.Duration {
	total := testkit.ProcessCPU()
	rows, err := m.st.Pool().Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		b.Fatal(err)
	}
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // gone, or not Linux
		}
		// Fields after the command's closing parenthesis: utime and stime
		// are the 12th and 13th.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+st) * 10 * time.Millisecond
	}
	return total
}

// report adds the CPU time per operation since the meter started.
func (m *cpuMeter) report(b *testing.B) {
	b.ReportMetric(float64((m.used(b)-m.start).Milliseconds())/float64(b.N), "cpu-ms/op")
}

// benchClient keeps enough connections open for the load it is given.
var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512}}

// call sends a request and reads its answer into out (when not nil); any
// status but want fails the benchmark.
func call(b *testing.B, method, u, key string, body []byte, want int, out any) {
	req, _ := http.NewRequest(method, u, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := benchClient.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		msg, _ := io.ReadAll(resp.Body)
		b.Errorf("%s %s: %d %s", method, u, resp.StatusCode, msg)
		return
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			b.Error(err)
		}
	} else {
		io.Copy(io.Discard, resp.Body)
	}
}

// BenchmarkBulkUpsert10000Users: one POST /users:bulk of 10,000 users new
// to the roster (each iteration other UPNs), answered once committed.
func BenchmarkBulkUpsert10000Users(b *testing.B) {
	srv, st, _, key := benchAPI(b)
	cpu := newCPUMeter(b, st)
	defer cpu.report(b)
	n := 0
	for b.Loop() {
		b.StopTimer()
		var body bytes.Buffer
		body.WriteString(`{"users":[`)
		for i := range 10_000 {
			if i > 0 {
				body.WriteByte(',')
			}
			fmt.Fprintf(&body, `{"upn":"agent%d-%05d@contoso.example","externalId":"ext-%d-%d"}`, n, i, n, i)
		}
		body.WriteString(`]}`)
		n++
		b.StartTimer()
		var out struct{ Added int }
		call(b, http.MethodPost, srv.URL+"/api/v1/users:bulk", key, body.Bytes(), http.StatusOK, &out)
		if out.Added != 10_000 {
			b.Fatalf("added %d", out.Added)
		}
	}
}

// rosterWithPresence puts n resolved users with a presence each on the
// tenant's roster, written directly for speed, and returns their ids.
func rosterWithPresence(b *testing.B, st *store.Store, tenant uuid.UUID, n int) []uuid.UUID {
	b.Helper()
	pool := st.Pool()
	testkit.Exec(b, pool, `INSERT INTO directory_users (tenant_id, upn, object_id, external_id, resolution_status, source)
		SELECT $1, 'user' || i || '@contoso.example', gen_random_uuid(), 'ext-' || i, 'resolved', 'list'
		FROM generate_series(1, $2::int) AS i`, tenant, n)
	testkit.Exec(b, pool, `INSERT INTO presence (tenant_id, user_object_id, availability, activity, sequence, observed_at, mapped_state)
		SELECT tenant_id, object_id, 'Busy', 'InACall', 1, now(), 'talking' FROM directory_users WHERE tenant_id = $1`, tenant)
	// As autovacuum leaves tables in service (inserts trigger it too):
	// hint bits and the visibility map set, statistics current.
	testkit.Exec(b, pool, `VACUUM ANALYZE directory_users`)
	testkit.Exec(b, pool, `VACUUM ANALYZE presence`)
	rows, err := pool.Query(context.Background(), `SELECT object_id FROM directory_users WHERE tenant_id = $1`, tenant)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]uuid.UUID, 0, n)
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// BenchmarkPresenceSnapshot100k: GET /presence, every page of 1,000, for a
// tenant of 100,000 users. The client reads each page whole, into the
// buffer it read the page before into, but does not decode it (it counts
// the users and takes the cursor from the page's end): what is measured is
// the API serving the snapshot, not a client's JSON parser (encoding/json
// would add ~2 ms a page on this machine), nor the garbage of a client in
// the server's process (io.ReadAll's ~400 KB a page was most of what the
// collector had to clear, and made it run for the server too).
func BenchmarkPresenceSnapshot100k(b *testing.B) {
	srv, st, tenant, key := benchAPI(b)
	rosterWithPresence(b, st, tenant, 100_000)
	cpu := newCPUMeter(b, st)
	defer cpu.report(b)
	var buf bytes.Buffer
	for b.Loop() {
		users, next := 0, srv.URL+"/api/v1/presence?limit=1000"
		for next != "" {
			page := get(b, next, key, &buf)
			users += bytes.Count(page, []byte(`"userId":`))
			next = ""
			if _, c, ok := bytes.Cut(page[max(0, len(page)-200):], []byte(`"nextCursor":"`)); ok {
				c, _, _ = bytes.Cut(c, []byte(`"`))
				next = srv.URL + "/api/v1/presence?limit=1000&cursor=" + url.QueryEscape(string(c))
			}
		}
		if users != 100_000 {
			b.Fatalf("the snapshot held %d users", users)
		}
	}
}

// get reads an answer whole into buf (emptied first) and returns it; any
// status but 200 fails the benchmark.
func get(b *testing.B, u, key string, buf *bytes.Buffer) []byte {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := benchClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %d %v %.200s", u, resp.StatusCode, err, buf.Bytes())
	}
	return buf.Bytes()
}

// BenchmarkSingleUserPresenceAt2000: GET /users/{id}/presence of random
// users of a 100,000-user tenant, 2,000 requests a second for 5 s, sent on
// schedule whatever the answers' pace (two every millisecond); each
// latency counts from when its request was due, so a stall is not hidden
// by the sender waiting for it. Reports p50 and p99.
func BenchmarkSingleUserPresenceAt2000(b *testing.B) {
	srv, st, tenant, key := benchAPI(b)
	ids := rosterWithPresence(b, st, tenant, 100_000)
	// Warm the connection pool and the server's caches as a running
	// service has them.
	for i := range 200 {
		call(b, http.MethodGet, srv.URL+"/api/v1/users/"+ids[i].String()+"/presence", key, nil, http.StatusOK, nil)
	}
	const perMs, total = 2, 10_000
	cpu := newCPUMeter(b, st)
	defer cpu.report(b)
	for b.Loop() {
		lat := make([]time.Duration, 0, total)
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := time.Now()
		for i := 0; i < total; i += perMs {
			due := start.Add(time.Duration(i/perMs) * time.Millisecond)
			time.Sleep(time.Until(due))
			for range perMs {
				id := ids[rand.IntN(len(ids))]
				wg.Go(func() {
					call(b, http.MethodGet, srv.URL+"/api/v1/users/"+id.String()+"/presence", key, nil, http.StatusOK, nil)
					d := time.Since(due)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				})
			}
		}
		wg.Wait()
		elapsed := time.Since(start)
		slices.Sort(lat)
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}
