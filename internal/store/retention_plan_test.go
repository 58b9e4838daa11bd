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

// The bound on dead letters kept per user costs its batch's users, not
// the dead letters of the users before them. A disabled endpoint's users
// at the bound each gain a dead letter a change; numbered all at once in
// every batch, the hourly trim read every dead letter of the users before
// the batch's again: at 10,000 users gaining a dozen an hour, about 120
// million index entries an hour.
func TestTrimmingDeadLettersReadsOnlyTheUsersOfTheBatch(t *testing.T) {
	const users, each, perUser, batch = 2000, 12, 10, 100
	dsn, pool, _, tenants := unvacuumed(t, 1)
	testkit.Exec(t, pool, `INSERT INTO presence_events (tenant_id, user_object_id, sequence, availability, activity, mapped_state, source, observed_at)
		SELECT $1, gen_random_uuid(), 0, 'Busy', 'InACall', 'talking', 'notification', now() FROM generate_series(1, $2::int)`, tenants[0], users)
	testkit.Exec(t, pool, `INSERT INTO presence_events (tenant_id, user_object_id, sequence, availability, activity, mapped_state, source, observed_at)
		SELECT e.tenant_id, e.user_object_id, g, 'Busy', 'InACall', 'talking', 'notification', now()
		FROM presence_events e CROSS JOIN generate_series(1, $1::int) g WHERE e.sequence = 0`, each-1)
	testkit.Exec(t, pool, `INSERT INTO deliveries (tenant_id, endpoint_id, event_id, user_object_id, status)
		SELECT e.tenant_id, ep.id, e.id, e.user_object_id, 'dead' FROM presence_events e JOIN endpoints ep ON ep.tenant_id = e.tenant_id`)
	testkit.Exec(t, pool, `ANALYZE`)

	var planned []string
	measured := store.New(explainingPool(t, dsn, 1, "dead_letters_trimmed", &planned), storetest.Ring(t))
	var total int64
	var after store.DeadLetterUser
	for batches := 1; ; batches++ {
		n, next, err := measured.TrimDeadLetters(context.Background(), perUser, batch, after)
		if err != nil {
			t.Fatal(err)
		}
		total += n
		if next == (store.DeadLetterUser{}) {
			if batches != users/batch+1 {
				t.Errorf("done after %d batches of %d users, want %d", batches, batch, users/batch+1)
			}
			break
		}
		after = next
	}
	if want := int64(users * (each - perUser)); total != want {
		t.Errorf("trimmed %d dead letters, want %d", total, want)
	}
	var kept, over, oldest, counted int
	if err := pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE n <> $1), min(first), (SELECT dead_letters_trimmed FROM endpoints)
		FROM (SELECT count(*) AS n, min(e.sequence) AS first FROM deliveries d JOIN presence_events e ON e.id = d.event_id
			WHERE d.status = 'dead' GROUP BY d.user_object_id) u`, perUser).Scan(&kept, &over, &oldest, &counted); err != nil {
		t.Fatal(err)
	}
	if kept != users || over != 0 || oldest != each-perUser || counted != int(total) {
		t.Errorf("%d users kept dead letters, %d not %d of them, the oldest kept #%d, %d counted trimmed; want %d users, the newest %d of each (from #%d), %d counted",
			kept, over, perUser, oldest, counted, users, perUser, each-perUser, total)
	}

	// The last full batch, after 1,900 users trimmed before its own.
	plan := parsePlan(t, planned[len(planned)-2])
	if per := plan.buffers() / batch; per > 50 {
		t.Errorf("the last batch of %d users read %d buffers, %d a user; want at most 50", batch, plan.buffers(), per)
	}
	if per := plan.rowsHandled() / batch; per > 60 {
		t.Errorf("the last batch of %d users handled %d rows, %d a user; want at most 60", batch, plan.rowsHandled(), per)
	}
}
