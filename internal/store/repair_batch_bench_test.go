package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/presence"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
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
		storetest.Apply(b, st, cs)
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*users), "µs/user")
}

// BenchmarkReadingTheHeldPresenceOf1000UsersWithRichPresence is
// HeldPresences for a repair batch of 1,000 users who each have a status
// message, out-of-office settings and a work location, as the load run's
// users do: three jsonb columns a user, decoded by the pool's jsonb codec
// (ConfigurePool): each user's row found by the key (HeldPresences), or
// the tenant's range walked (TenantPresences). Reported per user, with
// the client's CPU and the database backend's.
func BenchmarkReadingTheHeldPresenceOf1000UsersWithRichPresence(b *testing.B) {
	const users = 1000
	pool, pid := oneBackend(b, nil)
	st := storetest.Open(b, pool)
	tenant := storetest.Tenant(b, pool, "Contoso")
	ctx := context.Background()
	ids := make([]uuid.UUID, users)
	cs := make([]store.PresenceChange, users)
	for i := range ids {
		ids[i] = uuid.New()
		cs[i] = store.PresenceChange{TenantID: tenant, UserID: ids[i], Availability: "Busy", Activity: "InACall", MappedState: "busy",
			Source: "repair", ObservedAt: time.Now(), Rich: presence.Rich{
				StatusMessage: &presence.StatusMessage{Message: "Back from lunch at 2 — call my mobile if urgent"},
				OutOfOffice:   &presence.OutOfOffice{IsOutOfOffice: i%10 == 0, Message: "I am away until Monday."},
				WorkLocation:  &presence.WorkLocation{WorkLocationType: "office", Source: "scheduled", PlaceID: "8a5c1d20-37b4-4f0e-9c51-0d8e4b7f2a11"},
			}}
	}
	storetest.Apply(b, st, cs)
	for _, read := range []struct {
		name string
		read func() (map[uuid.UUID]store.HeldPresence, error)
	}{
		{"each user", func() (map[uuid.UUID]store.HeldPresence, error) { return st.HeldPresences(ctx, tenant, ids) }},
		{"the whole tenant", func() (map[uuid.UUID]store.HeldPresence, error) { return st.TenantPresences(ctx, tenant, users) }},
	} {
		b.Run(read.name, func(b *testing.B) {
			cpu0, db0 := testkit.ProcessCPU(), backendCPU(b, pid)
			for b.Loop() {
				held, err := read.read()
				if err != nil || len(held) != users || held[ids[0]].Rich.WorkLocation == nil {
					b.Fatalf("held %d of %d (%v)", len(held), users, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*users), "µs/user")
			b.ReportMetric(float64((testkit.ProcessCPU()-cpu0).Nanoseconds())/1e3/float64(b.N*users), "µs-cpu-own/user")
			b.ReportMetric(float64((backendCPU(b, pid)-db0).Nanoseconds())/1e3/float64(b.N*users), "µs-cpu-db/user")
		})
	}
}
