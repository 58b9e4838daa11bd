package store_test

import (
	"context"
	"testing"
	"time"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// Retention's cost follows the events it deletes, not the deliveries
// pending meanwhile nor the history kept. It runs in batches of 5,000
// until a batch comes back short, so a backlog of a day at 1,000 changes
// a second is 17,000 batches; one that read every pending delivery to
// learn which old events still wait for one would read a platform
// outage's backlog (7.2 million deliveries after two hours at 1,000/s)
// for each batch.
func TestRetentionReadsInProportionToWhatItDeletesWhateverIsPending(t *testing.T) {
	const endpoints, users, limit = 20, 500, 200
	dsn, pool, st, tenants := unvacuumed(t, endpoints)
	// Old history, all delivered: 10,000 events and deliveries.
	queueRepair(t, st, tenants, users, 0)
	testkit.Exec(t, pool, `UPDATE deliveries SET status = 'delivered', attempts = 1, delivered_at = now()`)
	testkit.Exec(t, pool, `UPDATE presence_events SET created_at = now() - interval '40 days'`)
	// Recent history, delivered, then a backlog pending: 20,000 more.
	queueRepair(t, st, tenants, users, 1)
	testkit.Exec(t, pool, `UPDATE deliveries SET status = 'delivered', attempts = 1, delivered_at = now() WHERE status = 'pending'`)
	queueRepair(t, st, tenants, users, 0)
	testkit.Exec(t, pool, `ANALYZE`)

	var planned []string
	measured := store.New(explainingPool(t, dsn, 1, "DELETE FROM presence_events", &planned), storetest.Ring(t))
	n, next, err := measured.DeleteOldPresenceEvents(context.Background(), 30*24*time.Hour, 0, limit)
	if err != nil || n != limit || next == 0 || len(planned) != 1 {
		t.Fatalf("deleted %d old events, to go on after %d, with %d plans (%v); want %d, more to go, 1 plan", n, next, len(planned), err, limit)
	}
	plan := parsePlan(t, planned[0])
	if per := plan.buffers() / limit; per > 60 {
		t.Errorf("deleting %d old events beside %d pending deliveries read %d buffers, %d an event; want at most 60",
			limit, endpoints*users, plan.buffers(), per)
	}
	// Each old event's endpoints are read by a sequential scan of this
	// small table: 20 rows an event here, one probe of endpoints_tenant_idx
	// with more tenants.
	if per := plan.rowsHandled() / limit; per > 40 {
		t.Errorf("deleting %d old events beside %d pending deliveries handled %d rows, %d an event; want at most 40",
			limit, endpoints*users, plan.rowsHandled(), per)
	}

	// Batch after batch from where the last stopped, every old event goes
	// and no young one.
	total := n
	for after := next; after != 0; {
		n, after, err = st.DeleteOldPresenceEvents(context.Background(), 30*24*time.Hour, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if want := int64(endpoints * users); total != want {
		t.Errorf("deleted %d old events in all, want %d", total, want)
	}
	var old, recent int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE created_at < now() - interval '30 days'), count(*) FILTER (WHERE created_at > now() - interval '1 day')
		FROM presence_events`).Scan(&old, &recent); err != nil {
		t.Fatal(err)
	}
	if old != 0 || recent != 2*endpoints*users {
		t.Errorf("left %d old and %d recent events, want none and %d", old, recent, 2*endpoints*users)
	}
}
