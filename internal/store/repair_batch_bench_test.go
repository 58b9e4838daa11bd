package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
)

// BenchmarkARepairBatchOf1000ChangedUsers is the store's part of a repair
// of one tenant (engine.Repair): what it holds read for 1,000 users
// (HeldPresences), then their changes applied in one batch, each an event
// and a delivery to the tenant's endpoint. Reported per user.
func BenchmarkARepairBatchOf1000ChangedUsers(b *testing.B) {
	const users = 1000
	st, tenant := storetest.New(b)
	ctx := context.Background()
	secret, _ := st.PutSecret(ctx, &tenant, store.PurposeSigningSecret, []byte("whsec_x"))
	if _, err := st.Pool().Exec(ctx, `INSERT INTO endpoints (tenant_id, url, signing_secret_id) VALUES ($1, 'https://x.example/hook', $2)`, tenant, secret); err != nil {
		b.Fatal(err)
	}
	ids := make([]uuid.UUID, users)
	for i := range ids {
		ids[i] = uuid.New()
	}
	states := []string{"Busy", "Away"}
	i := 0
	for b.Loop() {
		if _, err := st.HeldPresences(ctx, tenant, ids); err != nil {
			b.Fatal(err)
		}
		cs := make([]store.PresenceChange, users)
		for k, id := range ids {
			cs[k] = store.PresenceChange{TenantID: tenant, UserID: id, Availability: states[i%2], Activity: states[i%2], MappedState: "busy",
				Source: "repair", ObservedAt: time.Now()}
		}
		if err := st.InTx(ctx, func(tx store.Tx) error { _, _, err := tx.ApplyPresenceBatch(ctx, cs); return err }); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*users), "µs/user")
}
