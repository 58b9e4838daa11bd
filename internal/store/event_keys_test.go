package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// A change of a user the store knows writes its event without locking the
// tenant's row: the event's key to tenants cost every event written an
// index probe of tenants and a KEY SHARE lock of its row (6 of 68–70
// shared buffers a change at 1,000 tenants, issue 16). Here the tenant's
// row is held FOR UPDATE, as a purge holds it, and the change goes on.
func TestAnEventIsWrittenWithoutLockingItsTenantsRow(t *testing.T) {
	ctx := context.Background()
	st, tenant := storetest.New(t)
	user := uuid.New()
	publish(t, st, tenant, user, "InACall")
	lock, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(ctx)
	if _, err := lock.Exec(ctx, `SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE`, tenant); err != nil {
		t.Fatal(err)
	}
	// Far longer than the change takes; if it waits, it waits for the
	// rollback above, which comes only after.
	waited, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err = st.InTx(waited, func(tx store.Tx) error {
		_, _, err := tx.ApplyPresence(waited, store.PresenceChange{TenantID: tenant, UserID: user, Availability: "Away", Activity: "Away",
			MappedState: "away", Source: "notification", ObservedAt: time.Now()})
		return err
	})
	if err != nil {
		t.Errorf("the change: %v (it waited for the tenant's row)", err)
	}
}

// A purged tenant's presence events go with it, and their deliveries:
// events have no key to tenants to cascade, nor deliveries to events
// (migrations 000053 and 000054).
func TestAPurgedTenantsEventsAndDeliveriesGoWithIt(t *testing.T) {
	ctx := context.Background()
	st, tenant := storetest.New(t)
	other := storetest.Tenant(t, st.Pool(), "Fabrikam")
	for _, id := range []uuid.UUID{tenant, other} {
		if _, err := st.CreateEndpoint(ctx, id, "https://a.example/hook", "whsec_dGVzdA=="); err != nil {
			t.Fatal(err)
		}
		publish(t, st, id, uuid.New(), "InACall")
	}
	testkit.Exec(t, st.Pool(), `UPDATE tenants SET status = 'deleted', purge_after = now() - interval '1 hour' WHERE id = $1`, tenant)
	purged, err := st.PurgeDeletedTenants(ctx, time.Now(), 10)
	if err != nil || len(purged) != 1 || purged[0] != tenant {
		t.Fatalf("purged %v (%v), want %v", purged, err, tenant)
	}
	for _, c := range []struct{ table, want string }{
		{"presence_events", other.String()},
		{"deliveries", other.String()},
	} {
		var left []string
		rows, err := st.Pool().Query(ctx, `SELECT tenant_id::text FROM `+c.table)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			left = append(left, s)
		}
		if rows.Err() != nil || len(left) != 1 || left[0] != c.want {
			t.Errorf("%s left: %v (%v), want only the other tenant's", c.table, left, rows.Err())
		}
	}
}

// Queuing an event's deliveries leaves the event's row as written: the
// deliveries' key to presence_events locked the row just inserted (KEY
// SHARE: its xmax set, the page dirtied again, a WAL record) for every
// delivery, 5 of 62–64 shared buffers a change at 1,000 tenants
// (issue 16).
func TestQueuingAnEventsDeliveriesDoesNotLockTheEvent(t *testing.T) {
	ctx := context.Background()
	st, tenant := storetest.New(t)
	if _, err := st.CreateEndpoint(ctx, tenant, "https://a.example/hook", "whsec_dGVzdA=="); err != nil {
		t.Fatal(err)
	}
	publish(t, st, tenant, uuid.New(), "InACall")
	var deliveries, locked int
	if err := st.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM deliveries), (SELECT count(*) FROM presence_events WHERE xmax <> 0)`).
		Scan(&deliveries, &locked); err != nil {
		t.Fatal(err)
	}
	if deliveries != 1 || locked != 0 {
		t.Errorf("%d deliveries queued, %d events locked; want 1 and 0", deliveries, locked)
	}
}
