package deliver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// BenchmarkDrainingARepairOf20000UsersOver100Tenants is the deliverer's
// part of a repair (issue 16): 100 tenants, each with one endpoint at the
// same receiver (one host, as a telephony platform's webhooks are), and
// 200 users each whose repaired states wait as one batch of deliveries
// per tenant; the deliverer drains them. It reports the drain rate, the
// CPU per delivery of this process (deliverer and receiver) and of the
// database's backends, the shared buffers the database touched a delivery
// and the share of the deliveries' updates that were heap-only.
func BenchmarkDrainingARepairOf20000UsersOver100Tenants(b *testing.B) {
	st, first := storetest.New(b)
	drainRepair(b, st, first, 1)
}

// BenchmarkDrainingARepairWithTwoDeliverers is the same drain by two
// deliverers at once, as web + 2 workers run it (each worker has one):
// in TestLoadRepair their claims took 163–226 ms each against serve's
// 15 ms. With PB_CLAIM_WAITS=1 either benchmark reports what the claims'
// backends waited on, sampled from pg_stat_activity (waits/claim-<event>:
// the share of samples).
func BenchmarkDrainingARepairWithTwoDeliverers(b *testing.B) {
	st, first := storetest.New(b)
	drainRepair(b, st, first, 2)
}

func drainRepair(b *testing.B, st *store.Store, first uuid.UUID, deliverers int) {
	const tenants, users = 100, 200
	ctx := context.Background()
	pool := st.Pool()
	var got atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(hook.Close)
	ids := []uuid.UUID{first}
	for i := 1; i < tenants; i++ {
		ids = append(ids, storetest.Tenant(b, pool, fmt.Sprintf("Tenant %d", i)))
	}
	for _, t := range ids {
		secret, _ := NewSecret()
		sid, err := st.PutSecret(ctx, &t, store.PurposeSigningSecret, []byte(secret))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO endpoints (tenant_id, url, signing_secret_id) VALUES ($1, $2, $3)`, t, hook.URL, sid); err != nil {
			b.Fatal(err)
		}
	}
	var wall, own, db time.Duration
	waits := map[string]int{}
	var sent, claims, blocks, updates, heapOnly int64
	for range b.N {
		states := [][2]string{{"Busy", "Busy"}, {"Away", "Away"}}[sent/int64(tenants*users)%2]
		for _, t := range ids {
			cs := make([]store.PresenceChange, users)
			for i := range cs {
				u := uuid.NewSHA1(t, []byte(strconv.Itoa(i)))
				cs[i] = store.PresenceChange{TenantID: t, UserID: u, Availability: states[0], Activity: states[1], MappedState: strings.ToLower(states[0]),
					Source: "repair", ObservedAt: time.Now()}
			}
			storetest.Apply(b, st, cs)
		}
		sent += tenants * users
		dctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		before := tableCounters(b, pool)
		own0, db0 := testkit.ProcessCPU(), backendsCPU(b, pool)
		began := time.Now()
		var runs sync.WaitGroup
		ds := make([]*Deliverer, deliverers)
		for i := range ds {
			ds[i] = New(st, Options{AllowPrivate: true})
			runs.Go(func() { ds[i].Run(dctx, time.Second) })
		}
		go func() { runs.Wait(); close(done) }()
		stopWaits := func() {}
		if os.Getenv("PB_CLAIM_WAITS") == "1" { // its queries are database CPU too
			stopWaits = sampleClaimWaits(dctx, pool, waits)
		}
		for got.Load() < sent {
			time.Sleep(5 * time.Millisecond)
		}
		stopWaits()
		wall += time.Since(began)
		own += testkit.ProcessCPU() - own0
		db += backendsCPU(b, pool) - db0
		cancel()
		<-done
		after := tableCounters(b, pool)
		blocks, updates, heapOnly = blocks+after.blocks-before.blocks, updates+after.updates-before.updates, heapOnly+after.heapOnly-before.heapOnly
		for _, d := range ds {
			claims += d.claims.Load()
		}
	}
	n := float64(b.N * tenants * users)
	b.ReportMetric(n/float64(claims), "deliveries/claim")
	b.ReportMetric(n/wall.Seconds(), "deliveries/s")
	b.ReportMetric(float64(own.Microseconds())/n, "µs-cpu-own/delivery")
	b.ReportMetric(float64(db.Microseconds())/n, "µs-cpu-db/delivery")
	b.ReportMetric(float64(blocks)/n, "blocks/delivery")
	b.ReportMetric(float64(heapOnly)/float64(updates), "heap-only/update")
	total := 0
	for _, k := range waits {
		total += k
	}
	for ev, k := range waits {
		b.ReportMetric(float64(k)/float64(total), "waits/claim-"+ev)
	}
}

// counters are the database's shared buffers touched and the deliveries'
// updates, all and heap-only, so far.
type counters struct{ blocks, updates, heapOnly int64 }

// tableCounters reads counters once every backend has flushed its
// statistics: a backend flushes them when it goes idle at least a second
// after its last flush (PGSTAT_MIN_INTERVAL).
func tableCounters(b *testing.B, pool *pgxpool.Pool) counters {
	time.Sleep(1500 * time.Millisecond)
	var c counters
	if err := pool.QueryRow(context.Background(), `SELECT d.blks_hit + d.blks_read, t.n_tup_upd, t.n_tup_hot_upd
		FROM pg_stat_database d, pg_stat_user_tables t WHERE d.datname = current_database() AND t.relname = 'deliveries'`).
		Scan(&c.blocks, &c.updates, &c.heapOnly); err != nil {
		b.Fatal(err)
	}
	return c
}

// sampleClaimWaits counts, every 2 ms until the function it returns is
// called, what each backend running a delivery claim is waiting on
// (wait_event_type:wait_event, "cpu" when it waits on nothing).
func sampleClaimWaits(ctx context.Context, pool *pgxpool.Pool, into map[string]int) func() {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Millisecond):
			}
			rows, err := pool.Query(ctx, `SELECT coalesce(wait_event_type || ':' || wait_event, 'cpu') FROM pg_stat_activity
				WHERE state = 'active' AND query LIKE '%WITH RECURSIVE sample%' AND pid <> pg_backend_pid()`)
			if err != nil {
				continue
			}
			for rows.Next() {
				var ev string
				if rows.Scan(&ev) == nil {
					into[ev]++
				}
			}
			rows.Close()
		}
	}()
	return func() { close(stop); <-done }
}

// backendsCPU is the CPU so far of the database's backends serving this
// database (the pool's connections, which live as long as it), read from
// /proc: the server runs on this machine.
func backendsCPU(b *testing.B, pool *pgxpool.Pool) time.Duration { return backendsCPUOf(b, pool, "") }

// backendsCPUOf is backendsCPU of the backends whose application_name is
// app ("": all of them).
func backendsCPUOf(b *testing.B, pool *pgxpool.Pool, app string) time.Duration {
	rows, err := pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()
		AND ($1 = '' OR application_name = $1)`, app)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var total time.Duration
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command's closing parenthesis: utime and stime
		// are the 12th and 13th, in clock ticks (100 a second on Linux).
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		stt, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+stt) * 10 * time.Millisecond
	}
	return total
}
