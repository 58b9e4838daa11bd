package deliver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
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

// BenchmarkDeliveringAThousandChangesASecondTo1000Endpoints is the
// deliverer at the load run's steady rate (issue 16): 1,000 tenants, each
// with one endpoint at the same receiver, and 1,000 changes a second of
// 100 users each, stored in batches of 20 every 20 ms (as the processor
// stores a notification POST's) by a producer with a pool of its own, each
// batch waking the deliverer as its NOTIFY would. Every endpoint has a
// delivery about once a second, so ~1,000 endpoints have something pending
// at once while latency is a second (in the load run it was seconds). It reports the database's CPU per
// delivery, the deliverer's backends' part of it and the producer's (the
// batches, deliveries' inserts included), the claims made and deliveries
// per claim, and the latency from the change to the receiver.
// PB_BENCH_SECONDS sets a phase's length (default 15); unless
// PB_BENCH_WAITING=0, every endpoint also has a delivery waiting for a
// retry an hour away.
func BenchmarkDeliveringAThousandChangesASecondTo1000Endpoints(b *testing.B) {
	const tenants, users, batch, every = 1000, 100, 20, 20 * time.Millisecond
	phase := 15 * time.Second
	if n, err := strconv.Atoi(os.Getenv("PB_BENCH_SECONDS")); err == nil && n > 0 {
		phase = time.Duration(n) * time.Second
	}
	ctx := context.Background()
	dsn := testkit.NewDatabase(b)
	pool := benchPool(b, dsn, "deliverer")
	producerPool := benchPool(b, dsn, "producer")
	st := storetest.Open(b, pool)
	producer := store.New(producerPool, storetest.Ring(b))

	var got atomic.Int64
	var mu sync.Mutex
	var latencies []time.Duration
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			Data struct {
				ObservedAt time.Time `json:"observedAt"`
			} `json:"data"`
		}
		if json.Unmarshal(body, &ev) == nil {
			mu.Lock()
			latencies = append(latencies, time.Since(ev.Data.ObservedAt))
			mu.Unlock()
		}
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(hook.Close)
	ids := make([]uuid.UUID, tenants)
	for i := range ids {
		ids[i] = storetest.Tenant(b, pool, fmt.Sprintf("Tenant %d", i))
		secret, _ := NewSecret()
		sid, err := st.PutSecret(ctx, &ids[i], store.PurposeSigningSecret, []byte(secret))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO endpoints (tenant_id, url, signing_secret_id) VALUES ($1, $2, $3)`, ids[i], hook.URL, sid); err != nil {
			b.Fatal(err)
		}
	}
	if os.Getenv("PB_BENCH_WAITING") != "0" {
		// One delivery at every endpoint waits for a retry an hour away, as
		// after a failed attempt: every endpoint has something pending, as
		// in the load run, where p50 was seconds.
		cs := make([]store.PresenceChange, tenants)
		for i, t := range ids {
			cs[i] = store.PresenceChange{TenantID: t, UserID: uuid.NewSHA1(t, []byte("waiting")), Availability: "Away", Activity: "Away",
				MappedState: "away", Source: "notification", ObservedAt: time.Now()}
		}
		storetest.Apply(b, producer, cs)
		if _, err := pool.Exec(ctx, `UPDATE deliveries SET next_attempt_at = now() + interval '1 hour'`); err != nil {
			b.Fatal(err)
		}
	}
	states := []string{"Available", "Busy", "Away", "DoNotDisturb"}
	changed := make([]int, tenants*users)
	rng := rand.New(rand.NewPCG(1, 2))

	var wall, own, dbDeliverer, dbProducer time.Duration
	var sent, claims int64
	for range b.N {
		wake := make(chan struct{}, 1)
		d := New(st, Options{AllowPrivate: true, Wake: wake})
		dctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			d.Run(dctx, time.Second)
		}()
		mu.Lock()
		latencies = latencies[:0]
		mu.Unlock()
		own0, dd0, dp0 := testkit.ProcessCPU(), backendsCPUOf(b, pool, "deliverer"), backendsCPUOf(b, pool, "producer")
		began := time.Now()
		t := time.NewTicker(every)
		for time.Since(began) < phase {
			<-t.C
			cs := make([]store.PresenceChange, batch)
			for i := range cs {
				n := rng.IntN(tenants * users)
				changed[n]++
				s := states[changed[n]%len(states)]
				tenant := ids[n/users]
				cs[i] = store.PresenceChange{TenantID: tenant, UserID: uuid.NewSHA1(tenant, []byte(strconv.Itoa(n%users))), Availability: s,
					Activity: s, MappedState: strings.ToLower(s), Source: "notification", ObservedAt: time.Now()}
			}
			storetest.Apply(b, producer, cs)
			sent += batch
			select {
			case wake <- struct{}{}:
			default:
			}
		}
		t.Stop()
		for deadline := time.Now().Add(time.Minute); got.Load() < sent && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		if got.Load() < sent {
			b.Fatalf("%d of %d changes delivered a minute after the phase", got.Load(), sent)
		}
		wall += time.Since(began)
		own += testkit.ProcessCPU() - own0
		dbDeliverer += backendsCPUOf(b, pool, "deliverer") - dd0
		dbProducer += backendsCPUOf(b, pool, "producer") - dp0
		cancel()
		<-done
		claims += d.claims.Load()
	}
	n := float64(sent)
	mu.Lock()
	slices.Sort(latencies)
	p50, p99 := latencies[len(latencies)/2], latencies[len(latencies)*99/100]
	mu.Unlock()
	b.ReportMetric(n/wall.Seconds(), "deliveries/s")
	b.ReportMetric(float64(claims)/wall.Seconds(), "claims/s")
	b.ReportMetric(n/float64(claims), "deliveries/claim")
	b.ReportMetric(float64(own.Microseconds())/n, "µs-cpu-own/delivery")
	b.ReportMetric(float64((dbDeliverer+dbProducer).Microseconds())/n, "µs-cpu-db/delivery")
	b.ReportMetric(float64(dbDeliverer.Microseconds())/n, "µs-cpu-db-deliverer/delivery")
	b.ReportMetric(float64(dbProducer.Microseconds())/n, "µs-cpu-db-producer/delivery")
	b.ReportMetric(float64(p50.Microseconds())/1000, "ms-p50")
	b.ReportMetric(float64(p99.Microseconds())/1000, "ms-p99")
}

// benchPool is a pool of 8 on dsn, configured as the product's, whose
// backends are named app in pg_stat_activity (backendsCPUOf).
func benchPool(b *testing.B, dsn, app string) *pgxpool.Pool {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 8
	store.ConfigurePool(cfg)
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return pool
}
