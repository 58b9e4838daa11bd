package store_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
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

// encryptedPOST is a notification POST as Graph sends one with rich
// presence: items whose encryptedContent is base64 of random bytes (the
// data, the wrapped key and the signature), and a validation token.
func encryptedPOST(items int) []byte {
	random := func(n int) string {
		b := make([]byte, n*3/4)
		for i := range b {
			b[i] = byte(rand.Uint32())
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	out := make([]string, items)
	for i := range out {
		u, sub := uuid.NewString(), uuid.NewString()
		out[i] = fmt.Sprintf(`{"subscriptionId":"%s","subscriptionExpirationDateTime":"2026-11-23T10:00:00.0000000Z",`+
			`"changeType":"updated","clientState":"%s","resource":"communications/presences/%s","tenantId":"%s",`+
			`"resourceData":{"@odata.type":"#Microsoft.Graph.presence","@odata.id":"users/%s/presence","id":"%s"},`+
			`"encryptedContent":{"data":"%s","dataKey":"%s","dataSignature":"%s","encryptionCertificateId":"c-1",`+
			`"encryptionCertificateThumbprint":"%s"}}`,
			sub, random(40), u, uuid.NewString(), u, u, random(1400), random(344), random(44), random(40))
	}
	return []byte(`{"value":[` + strings.Join(out, ",") + `],"validationTokens":["` + random(1200) + `"]}`)
}

// BenchmarkInsertingAnEncryptedPOST is the receiver's insert of one POST
// of 11 rich items (about 28 KB), the load run's average at 1,000
// changes a second, alone in its group commit. It reports the
// PostgreSQL backend's CPU per insert.
func BenchmarkInsertingAnEncryptedPOST(b *testing.B) {
	ctx := context.Background()
	pool, pid := oneBackend(b, nil)
	st := storetest.Open(b, pool)
	posts := make([][]byte, 64)
	for i := range posts {
		posts[i] = encryptedPOST(11)
	}
	cpu0 := backendCPU(b, pid)
	n := 0
	for b.Loop() {
		if err := st.InsertInbox(ctx, []store.InboxRow{{Kind: "change", Payload: posts[n%len(posts)], Items: 11}}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(backendCPU(b, pid)-cpu0)/float64(n), "pg-cpu-ns/insert")
}

// BenchmarkClaimingAnEncryptedPOST is a processor's claim of one POST of
// 11 rich items (about 28 KB), the load run's average at 1,000 changes a
// second: the claim in a transaction rolled back, so that every
// iteration claims a row of the same size. It reports the PostgreSQL
// backend's CPU per claim.
func BenchmarkClaimingAnEncryptedPOST(b *testing.B) {
	ctx := context.Background()
	pool, pid := oneBackend(b, nil)
	st := storetest.Open(b, pool)
	post := encryptedPOST(11)
	if err := st.InsertInbox(ctx, []store.InboxRow{{Kind: "change", Payload: post, Items: 11}}); err != nil {
		b.Fatal(err)
	}
	rollback := errors.New("roll back")
	claim := func() {
		err := st.InTx(ctx, func(tx store.Tx) error {
			rows, err := tx.ClaimInbox(ctx, 1)
			if err != nil {
				return err
			}
			if len(rows) != 1 || len(rows[0].Payload) < len(post)/2 {
				b.Fatalf("claimed %d rows", len(rows))
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			b.Fatal(err)
		}
	}
	claim() // the statement's description cached, as on a processor's connection
	cpu0 := backendCPU(b, pid)
	n := 0
	for b.Loop() {
		claim()
		n++
	}
	b.ReportMetric(float64(backendCPU(b, pid)-cpu0)/float64(n), "pg-cpu-ns/claim")
}
