package deliver

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/presence"
	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

// switchable is a receiver that is down (503) until up is called, and
// notes when each request arrived.
type switchable struct {
	*receiver
	mu   sync.Mutex
	down bool
	at   []time.Time
	ok   []bool
}

func newSwitchable(t *testing.T) *switchable {
	s := &switchable{down: true}
	s.receiver = newReceiver(t, func(int) (int, http.Header) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.at, s.ok = append(s.at, time.Now()), append(s.ok, !s.down)
		if s.down {
			return http.StatusServiceUnavailable, nil
		}
		return http.StatusNoContent, nil
	})
	return s
}

func (s *switchable) up() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = false
	return time.Now()
}

// TestAfterAnOutageTheUsersNewestStateArrivesWithinTenSecondsAndOlderOnesAreSuperseded
// is the acceptance test: the receiver is down for 30 s while one
// user changes state three times; when it is back, that user's newest
// state arrives within 10 s, the older ones are superseded (kept), and the
// user's order never goes backwards.
//
// How it maps to 30 s without waiting them: the deliverer runs for real
// (Run, the default schedule and circuit breaker) until its circuit for
// the endpoint has backed off to its longest cooldown (MaxCooldown) —
// about 10 s, after which nothing in the process changes however long the
// outage lasts: it probes once per cooldown. What 30 s would change is in
// the database, the delivery's place in its schedule; the test moves its
// start 20 s back and its next attempt to where the schedule puts it after
// 30 s (60 s from the start: 30 s away). Then the receiver comes back
// just after a failed probe, the worst moment: only the circuit's next
// probe, not the schedule, can bring the newest state within 10 s.
func TestAfterAnOutageTheUsersNewestStateArrivesWithinTenSecondsAndOlderOnesAreSuperseded(t *testing.T) {
	f := newFixture(t)
	r := newSwitchable(t)
	ep := f.endpoint(t, f.tenant, r.receiver)
	logs := &testkit.Logs{}
	d := New(f.st, Options{AllowPrivate: true, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx, time.Second) }()
	defer func() { cancel(); <-done }()

	user := uuid.New()
	for _, act := range []string{"InACall", "Available", "InAMeeting"} {
		f.change(t, f.tenant, user, "Busy", act, "talking")
		time.Sleep(100 * time.Millisecond)
	}
	atCap := func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		c := d.circuits[ep]
		return c != nil && c.open && !c.probing && c.cooldown == d.opts.MaxCooldown
	}
	deadline := time.Now().Add(30 * time.Second)
	for !atCap() {
		if time.Now().After(deadline) {
			t.Fatal("the circuit never backed off to its longest cooldown")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := f.pool.Exec(ctx, `UPDATE deliveries SET schedule_start = schedule_start - interval '20 seconds',
		next_attempt_at = schedule_start + interval '40 seconds' WHERE status = 'pending'`); err != nil {
		t.Fatal(err)
	}
	var scheduled time.Duration
	f.pool.QueryRow(ctx, `SELECT next_attempt_at - now() FROM deliveries WHERE status = 'pending'`).Scan(&scheduled)
	if scheduled < 10*time.Second {
		t.Fatalf("the newest delivery's next scheduled attempt is %v away; the test needs it beyond 10 s", scheduled)
	}

	back := r.up()
	var arrived time.Time
	var newest presence.EventData
	for arrived.IsZero() {
		if time.Since(back) > 15*time.Second {
			t.Fatal("the newest state did not arrive within 15 s of the receiver's return")
		}
		time.Sleep(5 * time.Millisecond)
		got := r.all()
		r.mu.Lock()
		for i, ok := range r.ok {
			if ok && i < len(got) {
				arrived, newest = r.at[i], got[i].event.Data
			}
		}
		r.mu.Unlock()
	}
	if lag := arrived.Sub(back); lag > 10*time.Second {
		t.Errorf("the newest state arrived %v after the receiver's return, want within 10 s", lag)
	} else {
		t.Logf("the newest state arrived %v after the receiver's return (its schedule said %v)", lag.Round(time.Millisecond), scheduled.Round(time.Second))
	}
	if newest.Sequence != 3 || newest.Activity != "InAMeeting" || newest.Supersedes == nil ||
		*newest.Supersedes != (presence.Superseded{FromSequence: 1, ToSequence: 2}) {
		t.Errorf("delivered %+v, want sequence 3 (InAMeeting) superseding 1–2", newest)
	}
	var last int64
	for _, g := range r.all() {
		if g.event.Data.Sequence < last {
			t.Fatalf("sequence %d sent after %d: the user's order went backwards", g.event.Data.Sequence, last)
		}
		last = g.event.Data.Sequence
	}
	deadline = time.Now().Add(5 * time.Second)
	for f.status(t)["delivered"] != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := f.status(t); s["delivered"] != 1 || s["superseded"] != 2 || s["pending"] != 0 {
		t.Errorf("statuses = %v, want the newest delivered and the two older superseded (kept)", s)
	}
	// Replay keeps them: the endpoint has the newer state, so re-sending
	// them would move the user backwards (the event stream has them).
	if r, err := f.st.ReplayEndpoint(ctx, f.tenant, ep, store.ReplayFilter{}); err != nil || r.Replayed != 0 || r.Kept != 2 {
		t.Errorf("replay: %d replayed, %d kept, %v; want 0 and 2", r.Replayed, r.Kept, err)
	}
	if l := logs.Lines("endpoint failing"); len(l) != 1 || !strings.Contains(l[0], "status=503") {
		t.Errorf("failing log lines: %q, want one with the status", l)
	}
	// The line follows the success, which the recorder may store first.
	for deadline := time.Now().Add(5 * time.Second); len(logs.Lines("endpoint recovered")) == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if l := logs.Lines("endpoint recovered"); len(l) != 1 || !strings.Contains(l[0], "after=") {
		t.Errorf("recovered log lines: %q, want one with how long", l)
	}
}

// TestANewerStateIsSentAtOnceBehindAFailedOneButNotWhileTheOlderIsOnTheWire:
// superseding never lets a newer state overtake an older one that is
// being sent (leased), and a healthy endpoint gets every event in order.
func TestANewerStateIsSentAtOnceBehindAFailedOneButNotWhileTheOlderIsOnTheWire(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := newReceiver(t, nil)
	f.endpoint(t, f.tenant, r)
	healthy, failing := uuid.New(), uuid.New()
	for _, act := range []string{"InACall", "Available", "InAMeeting"} {
		f.change(t, f.tenant, healthy, "Busy", act, "talking")
	}
	d := New(f.st, Options{AllowPrivate: true})
	for range 3 {
		d.RunOnce(ctx)
	}
	if n := len(r.all()); n != 3 {
		t.Fatalf("a healthy endpoint got %d of the user's 3 events", n)
	}

	f.change(t, f.tenant, failing, "Busy", "InACall", "talking")
	f.change(t, f.tenant, failing, "Available", "Available", "available")
	// The older one failed once and is now on the wire again (leased).
	testkit.Exec(t, f.pool, `UPDATE deliveries d SET attempts = 1, leased_until = now() + interval '1 minute',
		next_attempt_at = now() + interval '1 minute' FROM presence_events e
		WHERE e.id = d.event_id AND e.user_object_id = $1 AND e.sequence = 1`, failing)
	if by, err := f.st.SupersedeBehindFailures(ctx); err != nil || len(by) != 0 {
		t.Fatalf("superseded %v (%v) while the older delivery is leased", by, err)
	}
	// Its send failed and was recorded: now the newer one replaces it.
	testkit.Exec(t, f.pool, `UPDATE deliveries SET leased_until = NULL WHERE leased_until IS NOT NULL`)
	by, err := f.st.SupersedeBehindFailures(ctx)
	if err != nil || len(by) != 1 {
		t.Fatalf("superseded %v, %v; want one at the endpoint", by, err)
	}
	d.RunOnce(ctx)
	got := r.all()
	if last := got[len(got)-1].event.Data; last.User.ObjectID != failing || last.Sequence != 2 || last.Supersedes == nil ||
		last.Supersedes.FromSequence != 1 || last.Supersedes.ToSequence != 1 {
		t.Errorf("sent %+v, want the failing user's sequence 2 superseding 1", last)
	}
}

// TestWebhookIDsOfTwoFreshDatabasesNeverCollideAndEqualThePayloadsEventID:
// the same changes applied to two new databases give webhook-ids that
// share nothing (a row id restarts at 1 in each), and each is the event id
// its body carries.
func TestWebhookIDsOfTwoFreshDatabasesNeverCollideAndEqualThePayloadsEventID(t *testing.T) {
	users := []uuid.UUID{uuid.New(), uuid.New()}
	ids := make([]map[string]bool, 2)
	for i := range ids {
		f := newFixture(t)
		r := newReceiver(t, nil)
		f.endpoint(t, f.tenant, r)
		for _, act := range []string{"InACall", "Available", "InAMeeting"} {
			for _, u := range users {
				f.change(t, f.tenant, u, "Busy", act, "talking")
			}
		}
		d := New(f.st, Options{AllowPrivate: true})
		for range 3 {
			d.RunOnce(context.Background())
		}
		ids[i] = map[string]bool{}
		for _, g := range r.all() {
			id := g.header.Get("webhook-id")
			if id != g.event.Data.EventID.String() {
				t.Errorf("database %d: webhook-id %s, payload eventId %s", i+1, id, g.event.Data.EventID)
			}
			ids[i][id] = true
		}
		if len(ids[i]) != 6 {
			t.Fatalf("database %d: %d distinct webhook-ids for 6 events", i+1, len(ids[i]))
		}
	}
	for id := range ids[0] {
		if ids[1][id] {
			t.Errorf("webhook-id %s was given in both databases", id)
		}
	}
}

// TestAnOutcomeIsRecordedOnlyByTheClaimThatHoldsTheDelivery: a lease that
// ran out during a slow send let another worker claim the delivery again;
// the first worker's late outcome (success or failure) is not recorded,
// the second's is.
func TestAnOutcomeIsRecordedOnlyByTheClaimThatHoldsTheDelivery(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := newReceiver(t, nil)
	f.endpoint(t, f.tenant, r)
	f.change(t, f.tenant, uuid.New(), "Busy", "InACall", "talking")
	first, _, err := f.st.ClaimDeliveries(ctx, 10, 20*time.Millisecond, nil, 10, nil)
	if err != nil || len(first) != 1 {
		t.Fatalf("first claim: %d, %v", len(first), err)
	}
	time.Sleep(50 * time.Millisecond) // the first worker's send outlives its lease
	second, _, err := f.st.ClaimDeliveries(ctx, 10, time.Minute, nil, 10, nil)
	if err != nil || len(second) != 1 || second[0].ID != first[0].ID {
		t.Fatalf("second claim: %d, %v", len(second), err)
	}
	if ok, err := f.st.DeliveryFailed(ctx, first[0].ID, first[0].Lease, 500, "HTTP 500", time.Now().Add(time.Hour)); ok || err != nil {
		t.Errorf("the first claim's failure was recorded (%v, %v)", ok, err)
	}
	if ok, err := f.st.DeliverySucceeded(ctx, first[0].ID, first[0].Lease, 200); ok || err != nil {
		t.Errorf("the first claim's success was recorded (%v, %v)", ok, err)
	}
	var attempts int
	var status string
	f.pool.QueryRow(ctx, `SELECT attempts, status FROM deliveries`).Scan(&attempts, &status)
	if attempts != 0 || status != "pending" {
		t.Errorf("after the stale outcomes: %s with %d attempts, want pending with 0", status, attempts)
	}
	if _, err := f.st.DeliveriesSucceeded(ctx, []int64{second[0].ID}, []time.Time{second[0].Lease}, []int32{204}); err != nil {
		t.Fatal(err)
	}
	f.pool.QueryRow(ctx, `SELECT attempts, status FROM deliveries`).Scan(&attempts, &status)
	if attempts != 1 || status != "delivered" {
		t.Errorf("after the holder's success: %s with %d attempts, want delivered with 1", status, attempts)
	}
}
