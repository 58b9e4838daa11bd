package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
)

// pendingRoster adds n users to a new tenant's roster, as a list names
// them, and returns their resolutions as Graph would answer a roster
// whose people kept their UPN and have it as their mail (graphsim's
// members; most tenants' people).
func pendingRoster(tb testing.TB, st *store.Store, n int) (uuid.UUID, []store.Resolution) {
	tb.Helper()
	tenant := storetest.Tenant(tb, st.Pool(), "Contoso")
	entries := make([]store.DirectoryEntry, n)
	for i := range entries {
		entries[i] = store.DirectoryEntry{UPN: fmt.Sprintf("user%06d@contoso.example", i)}
	}
	users := addList(tb, st, tenant, entries)
	rs := make([]store.Resolution, len(users))
	for i, u := range users {
		oid := uuid.New()
		rs[i] = store.Resolution{ID: u.ID, Status: store.UserResolved, ObjectID: &oid, GraphUPN: u.UPN, Email: u.UPN, DisplayName: "User"}
	}
	return tenant, rs
}

// BenchmarkResolvingARosterOf10000Users records the resolution of a
// list roster of 10,000 users, 400 a statement as roster.Resolve records
// a $batch round's answers: the cold start's largest statement (at a
// million users 99 s of PostgreSQL's execution, 30 buffers a user; issue
// 16). Reported per user, with the WAL written.
func BenchmarkResolvingARosterOf10000Users(b *testing.B) {
	const users, batch = 10_000, 400
	st, _ := storetest.New(b)
	ctx := context.Background()
	var wal int64
	for b.Loop() {
		b.StopTimer()
		tenant, rs := pendingRoster(b, st, users)
		var lsn0 string
		if err := st.Pool().QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&lsn0); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for i := 0; i < len(rs); i += batch {
			if err := st.RecordResolutions(ctx, tenant, rs[i:min(i+batch, len(rs))]); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		var n int64
		if err := st.Pool().QueryRow(ctx, `SELECT pg_current_wal_insert_lsn() - $1::pg_lsn`, lsn0).Scan(&n); err != nil {
			b.Fatal(err)
		}
		wal += n
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*users), "µs/user")
	b.ReportMetric(float64(wal)/float64(b.N*users), "WAL-bytes/user")
}
