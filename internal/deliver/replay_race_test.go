package deliver

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

// userDeliveries are a user's deliveries to the fixture's endpoints, oldest
// event first.
func (f *fixture) userDeliveries(t *testing.T, user uuid.UUID) (ids []int64, statuses []string) {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), `SELECT id, status FROM deliveries WHERE user_object_id = $1 ORDER BY event_id`, user)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var s string
		if err := rows.Scan(&id, &s); err != nil {
			t.Fatal(err)
		}
		ids, statuses = append(ids, id), append(statuses, s)
	}
	return ids, statuses
}

// waiting counts this database's sessions waiting for a lock of kind
// (pg_stat_activity's wait_event: transactionid for a row, advisory).
func (f *fixture) waiting(t *testing.T, kind string) int {
	t.Helper()
	var n int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = $1`, kind).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// inOrder fails the test if the receiver got one of a user's states after
// a newer one.
func inOrder(t *testing.T, r *receiver) {
	t.Helper()
	last := map[uuid.UUID]int64{}
	for _, g := range r.all() {
		u, seq := g.event.Data.User.ObjectID, g.event.Data.Sequence
		if seq < last[u] {
			t.Errorf("user %s: sequence %d arrived after %d", u, seq, last[u])
		}
		last[u] = max(last[u], seq)
	}
}

// TestAReplayRacingALiveDeliveryNeverSendsTheUsersOlderStateAfterTheNewer
// reproduces FAULTS.md bug 2 step by step. The endpoint was disabled (its
// delivery of the user's first state is dead), enabled again, and the
// user's second state is queued. The replay's statement has read the table
// (its snapshot: the second state waiting, not sent) and waits — here for
// a row lock the test holds on the dead delivery, in the fault suite for
// the CPU — while the deliverer claims and sends what is due. The replay
// then puts the first state back in the queue. Before the fix the
// deliverer sent the second state during the replay and the first after
// it: the user's state moved backwards at the receiver. Now a claim cannot
// run while a replay decides (store.ReplayEndpoint), so whatever the
// interleaving the receiver gets 1 then 2.
func TestAReplayRacingALiveDeliveryNeverSendsTheUsersOlderStateAfterTheNewer(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := newReceiver(t, nil)
	ep := f.endpoint(t, f.tenant, r)
	user := uuid.New()
	if err := f.st.DisableEndpoint(ctx, ep, "410 Gone"); err != nil {
		t.Fatal(err)
	}
	f.change(t, f.tenant, user, "Busy", "InACall", "talking")
	if err := Enable(ctx, f.st, f.tenant, ep, "test"); err != nil {
		t.Fatal(err)
	}
	f.change(t, f.tenant, user, "Available", "Available", "available")
	ids, statuses := f.userDeliveries(t, user)
	if len(ids) != 2 || statuses[0] != store.DeliveryDead || statuses[1] != store.DeliveryPending {
		t.Fatalf("deliveries %v %v, want the first dead and the second pending", ids, statuses)
	}

	blocker, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Rollback(ctx)
	testkit.Exec(t, blocker, `SELECT 1 FROM deliveries WHERE id = $1 FOR UPDATE`, ids[0])
	replayed := make(chan store.Replayed, 1)
	go func() {
		got, err := Replay(ctx, f.st, f.tenant, ep, "test", store.ReplayFilter{})
		if err != nil {
			t.Error(err)
		}
		replayed <- got
	}()
	waitFor(t, "the replay to wait for the dead delivery's row", func() bool { return f.waiting(t, "transactionid") == 1 })

	d := New(f.st, Options{AllowPrivate: true})
	sent := make(chan struct{})
	go func() { defer close(sent); d.RunOnce(ctx) }()
	var waited bool
	waitFor(t, "the deliverer's round to end or wait", func() bool {
		select {
		case <-sent:
			return true
		default:
			waited = f.waiting(t, "advisory") == 1
			return waited
		}
	})
	t.Logf("the deliverer's round waited for the replay: %v", waited)
	if err := blocker.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := <-replayed; got.Replayed+got.Kept != 1 {
		t.Errorf("replay: %+v, want the dead delivery replayed or kept", got)
	}
	<-sent
	for range 3 {
		d.RunOnce(ctx)
	}
	inOrder(t, r)
	if got := r.all(); len(got) == 0 || got[len(got)-1].event.Data.Sequence != 2 {
		t.Errorf("the receiver got %d webhooks, the last not the user's sequence 2", len(got))
	}
}

// TestAClaimNeverTakesADeliveryOlderThanOneItsEndpointReceivedOrIsBeingSent:
// whatever put an older delivery back in the queue (here a replay that did
// not see the newer one reach the endpoint), the claim refuses it and
// every older one of the user still queued: they are superseded (kept,
// and a replay keeps them), never sent, neither claimed nor probed. One
// user's newer state was delivered, another's is being sent (leased).
func TestAClaimNeverTakesADeliveryOlderThanOneItsEndpointReceivedOrIsBeingSent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := newReceiver(t, nil)
	ep := f.endpoint(t, f.tenant, r)
	delivered, sending := uuid.New(), uuid.New()
	for _, u := range []uuid.UUID{delivered, sending} {
		f.change(t, f.tenant, u, "Busy", "InACall", "talking")
		f.change(t, f.tenant, u, "Busy", "InAMeeting", "busy")
		f.change(t, f.tenant, u, "Available", "Available", "available")
	}
	// Each user's first two are dead (the endpoint was disabled), the
	// third delivered, or claimed and on the wire.
	testkit.Exec(t, f.pool, `UPDATE deliveries d SET status = 'dead' FROM presence_events e WHERE e.id = d.event_id AND e.sequence < 3`)
	testkit.Exec(t, f.pool, `UPDATE deliveries SET leased_until = now() + interval '1 minute', next_attempt_at = now() + interval '1 minute'
		WHERE user_object_id = $1 AND status = 'pending'`, sending)
	d := New(f.st, Options{AllowPrivate: true})
	d.RunOnce(ctx)
	if got := r.all(); len(got) != 1 || got[0].event.Data.User.ObjectID != delivered || got[0].event.Data.Sequence != 3 {
		t.Fatalf("the receiver got %d webhooks, want the delivered user's sequence 3", len(got))
	}
	// What ReplayEndpoint does to the dead deliveries it finds in order,
	// marking each user's oldest for the claim to check.
	testkit.Exec(t, f.pool, `UPDATE deliveries d SET status = 'pending', attempts = 0, next_attempt_at = now(), schedule_start = now(),
		leased_until = NULL, order_check = (e.sequence = 1) FROM presence_events e WHERE e.id = d.event_id AND d.status = 'dead'`)

	if dl, ok, err := f.st.ClaimProbe(ctx, ep, time.Minute); ok || err != nil {
		t.Errorf("a probe claimed delivery %d (%v): older than a state the endpoint has", dl.ID, err)
	}
	if got, _, err := f.st.ClaimDeliveries(ctx, 10, time.Minute, nil, 10, nil); len(got) != 0 || err != nil {
		t.Errorf("claimed %d deliveries (%v): each older than a state the endpoint has", len(got), err)
	}
	d.RunOnce(ctx)
	inOrder(t, r)
	if n := len(r.all()); n != 1 {
		t.Errorf("the receiver got %d webhooks, want only the delivered user's sequence 3", n)
	}
	for _, u := range []uuid.UUID{delivered, sending} {
		if _, s := f.userDeliveries(t, u); len(s) != 3 || s[0] != store.DeliverySuperseded || s[1] != store.DeliverySuperseded {
			t.Errorf("user %s: statuses %v, want the two older superseded", u, s)
		}
	}
	if got, err := f.st.ReplayEndpoint(ctx, f.tenant, ep, store.ReplayFilter{}); err != nil || got != (store.Replayed{Kept: 4}) {
		t.Errorf("replay: %+v, %v; want the four superseded kept", got, err)
	}
}

// waitFor polls cond until it holds (at most a minute: the host is shared).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}
