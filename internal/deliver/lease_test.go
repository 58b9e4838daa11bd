package deliver

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/testkit"
)

// TestAClaimThatOutlivedItsLeaseNeverSendsAStaleCopyAfterTheUsersNextEvent
// reproduces issue 15's reorder: a deliverer claims more than it can send
// within its lease (one send at a time to a slow receiver); while it works
// through them, their leases run out and a second deliverer over the same
// database claims them again, delivers them and then each user's next
// event. The first must not send its stale copies after that: at the
// receiver, no user's sequence may go backwards.
func TestAClaimThatOutlivedItsLeaseNeverSendsAStaleCopyAfterTheUsersNextEvent(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const slow = 300 * time.Millisecond
	var once sync.Once
	arrived := make(chan struct{})
	r := newReceiver(t, func(int) (int, http.Header) {
		once.Do(func() { close(arrived) })
		<-time.After(slow) // arrival is noted before the wait: the receiver's order is the order of arrival
		return http.StatusNoContent, nil
	})
	f.endpoint(t, f.tenant, r)
	users := make([]uuid.UUID, 12)
	for i := range users {
		users[i] = uuid.New()
		f.change(t, f.tenant, users[i], "Busy", "InACall", "talking")
	}
	for _, u := range users {
		f.change(t, f.tenant, u, "Available", "Available", "available")
	}
	// 12 claimed at once, one sent at a time: 3.6 s of sending against a
	// 1.5 s lease.
	opts := Options{AllowPrivate: true, Timeout: 500 * time.Millisecond, Lease: 1500 * time.Millisecond}
	first := opts
	first.PerEndpoint, first.Queue = 1, len(users)
	a, b := New(f.st, first), New(f.st, opts)
	var wg sync.WaitGroup
	wg.Go(func() {
		if n, err := a.RunOnce(ctx); err != nil || n != len(users) {
			t.Errorf("the first deliverer claimed %d (%v), want every user's first event (%d)", n, err, len(users))
		}
	})
	<-arrived // the first deliverer holds its claims
	wg.Go(func() { b.Run(ctx, 20*time.Millisecond) })
	deadline := time.Now().Add(15 * time.Second)
	for f.status(t)["delivered"] < 2*len(users) && time.Now().Before(deadline) {
		<-time.After(50 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if s := f.status(t); s["delivered"] != 2*len(users) {
		t.Fatalf("statuses = %v, want all %d delivered", s, 2*len(users))
	}
	last := map[uuid.UUID]int64{}
	for i, g := range r.all() {
		u, seq := g.event.Data.User.ObjectID, g.event.Data.Sequence
		if seq < last[u] {
			t.Errorf("request %d: user %s's sequence %d arrived after %d", i+1, u, seq, last[u])
		}
		last[u] = max(last[u], seq)
	}
	for _, u := range users {
		if last[u] != 2 {
			t.Errorf("user %s: last sequence %d, want 2", u, last[u])
		}
	}
}

// TestAClaimWhoseLeaseWasTakenCanNeitherRecordPostponeRenewNorBeOvertaken
// checks every path by which a claim acts on its delivery once its lease
// ran out and another claim took the row: its outcomes (one at a time or
// in a batch), a postponement (open circuit) and a renewal change nothing;
// while the new claim holds the row neither a probe nor superseding takes
// it; the holder renews and records. (Issue 15 asked whether the lease
// argument already guarded the records: it did, as this shows; the
// renewal is what is new.)
func TestAClaimWhoseLeaseWasTakenCanNeitherRecordPostponeRenewNorBeOvertaken(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ep := f.endpoint(t, f.tenant, newReceiver(t, nil))
	user := uuid.New()
	f.change(t, f.tenant, user, "Busy", "InACall", "talking")
	stale, _, err := f.st.ClaimDeliveries(ctx, 10, 20*time.Millisecond, nil, 10, nil)
	if err != nil || len(stale) != 1 {
		t.Fatalf("first claim: %d, %v", len(stale), err)
	}
	<-time.After(50 * time.Millisecond)
	holder, _, err := f.st.ClaimDeliveries(ctx, 10, time.Minute, nil, 10, nil)
	if err != nil || len(holder) != 1 || holder[0].ID != stale[0].ID {
		t.Fatalf("second claim: %d, %v", len(holder), err)
	}
	id, old := stale[0].ID, stale[0].Lease
	row := func() (status string, attempts int, lease, next time.Time) {
		t.Helper()
		if err := f.pool.QueryRow(ctx, `SELECT status, attempts, leased_until, next_attempt_at FROM deliveries WHERE id = $1`, id).
			Scan(&status, &attempts, &lease, &next); err != nil {
			t.Fatal(err)
		}
		return
	}
	if _, err := f.st.DeliveriesSucceeded(ctx, []int64{id}, []time.Time{old}, []int32{204}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.PostponeDelivery(ctx, id, old, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := f.st.RenewDelivery(ctx, id, old, time.Minute); ok || err != nil {
		t.Errorf("the stale claim renewed its lease (%v, %v)", ok, err)
	}
	// The postponement asked for an hour; a claim leaves the schedule as it
	// was, due when the change was made.
	if status, attempts, lease, next := row(); status != "pending" || attempts != 0 || !lease.Equal(holder[0].Lease) || next.After(time.Now()) {
		t.Errorf("after the stale claim's batch record, postponement and renewal: %s, %d attempts, leased until %v, next at %v; "+
			"want pending, 0, the holder's lease %v, due before now", status, attempts, lease, next, holder[0].Lease)
	}
	if _, ok, err := f.st.ClaimProbe(ctx, ep, time.Minute); ok || err != nil {
		t.Errorf("a probe claimed the held delivery (%v, %v)", ok, err)
	}
	testkit.Exec(t, f.pool, `UPDATE deliveries SET attempts = 1 WHERE id = $1`, id) // a failed head, a newer state behind it
	f.change(t, f.tenant, user, "Available", "Available", "available")
	if by, err := f.st.SupersedeBehindFailures(ctx); err != nil || len(by) != 0 {
		t.Errorf("superseded %v (%v) while the delivery is held", by, err)
	}
	renewed, ok, err := f.st.RenewDelivery(ctx, id, holder[0].Lease, time.Minute)
	if !ok || err != nil || !renewed.After(holder[0].Lease) {
		t.Fatalf("the holder's renewal: %v, %v, %v", renewed, ok, err)
	}
	if ok, err := f.st.DeliverySucceeded(ctx, id, holder[0].Lease, 204); ok || err != nil {
		t.Errorf("the holder's record under its lease before the renewal was taken (%v, %v)", ok, err)
	}
	if ok, err := f.st.DeliverySucceeded(ctx, id, renewed, 204); !ok || err != nil {
		t.Errorf("the holder's record under its renewed lease: %v, %v", ok, err)
	}
}
