package store_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
)

// BenchmarkCompletingBatchesAtAMillionUsers is the end of a processed
// inbox batch (CompleteInboxBatch) in the load run's shape at a million
// users (issue 16): 1,540 subscriptions, 1,000 changes a second in
// batches of 40, each change of a subscription drawn at random. The
// batches' receipt times advance 40 ms a batch (1,000 a second), whatever
// the benchmark's own pace. It reports the CPU of the PostgreSQL backend
// per change, and the subscription rows stamped per change.
func BenchmarkCompletingBatchesAtAMillionUsers(b *testing.B) {
	const subscriptions, batch = 1540, 40
	ctx := context.Background()
	pool, pid := oneBackend(b, nil)
	st := storetest.Open(b, pool)
	tenant := storetest.Tenant(b, pool, "Contoso")
	rows, err := pool.Query(ctx, `WITH m AS (
			INSERT INTO monitors (tenant_id, upn) SELECT $1, 'monitor' || i || '@contoso.example'
			FROM generate_series(1, `+strconv.Itoa(subscriptions)+`) i RETURNING id
		)
		INSERT INTO subscriptions (tenant_id, monitor_id, graph_id, resource) SELECT $1, id, id::text, 'r' FROM m RETURNING id`, tenant)
	if err != nil {
		b.Fatal(err)
	}
	subs, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE subscriptions`); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	at := time.Now().Add(-time.Hour)
	complete := func() {
		at = at.Add(batch * time.Millisecond)
		touched := map[uuid.UUID]time.Time{}
		for range batch {
			touched[subs[rng.IntN(len(subs))]] = at
		}
		if err := st.InTx(ctx, func(tx store.Tx) error { return tx.CompleteInboxBatch(ctx, nil, touched) }); err != nil {
			b.Fatal(err)
		}
	}
	for range 3000 / batch { // a minute of receipts: every stamp as it will stay
		complete()
	}
	var updates0, updates1 int64
	stamped := `SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'subscriptions'`
	flush := func(n *int64) {
		if _, err := pool.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
			b.Fatal(err)
		}
		if err := pool.QueryRow(ctx, stamped).Scan(n); err != nil {
			b.Fatal(err)
		}
	}
	flush(&updates0)
	cpu0 := backendCPU(b, pid)
	for b.Loop() {
		complete()
	}
	cpu1 := backendCPU(b, pid)
	flush(&updates1)
	n := float64(b.N * batch)
	b.ReportMetric(float64((cpu1-cpu0).Microseconds())/n, "pg-µs/change")
	b.ReportMetric(float64(updates1-updates0)/n, "stamps/change")
}
