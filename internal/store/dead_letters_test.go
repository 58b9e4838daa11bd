package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// oneEndpoint gives a store with a tenant and one endpoint of it, enabled
// or disabled by its admin.
func oneEndpoint(t *testing.T, enabled bool) (*store.Store, uuid.UUID, store.Endpoint) {
	t.Helper()
	ctx := context.Background()
	st, tenant := storetest.New(t)
	ep, err := st.CreateEndpoint(ctx, tenant, "https://a.example/hook", "whsec_dGVzdA==")
	if err != nil {
		t.Fatal(err)
	}
	if !enabled {
		if err := st.DisableEndpoint(ctx, ep.ID, "by its admin"); err != nil {
			t.Fatal(err)
		}
	}
	return st, tenant, ep
}

// TestChangesWhileAnEndpointIsDisabledAreKeptNeverTriedAndReplayedInOrder:
// an endpoint disabled (a 410, or its admin) still gets a delivery for
// every event published meanwhile, at once or when a debounce hold ends,
// kept dead and never tried with the reason, so that enabling it and
// replaying sends what it missed, each user's in order (issue 15: they
// were not queued at all, and could not be replayed).
func TestChangesWhileAnEndpointIsDisabledAreKeptNeverTriedAndReplayedInOrder(t *testing.T) {
	ctx := context.Background()
	st, tenant, ep := oneEndpoint(t, true)
	ann, bob := uuid.New(), uuid.New()
	publish(t, st, tenant, ann, "InACall")
	if err := st.DisableEndpoint(ctx, ep.ID, "the endpoint answered 410 Gone"); err != nil {
		t.Fatal(err)
	}
	apply := func(user uuid.UUID, activity, mapped string) {
		t.Helper()
		err := st.InTx(ctx, func(tx store.Tx) error {
			_, _, err := tx.ApplyPresence(ctx, store.PresenceChange{TenantID: tenant, UserID: user, Availability: "Busy", Activity: activity,
				MappedState: mapped, Source: "notification", ObservedAt: time.Now(), Debounce: time.Millisecond})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	apply(bob, "InACall", "talking")
	publish(t, st, tenant, ann, "InAMeeting")
	apply(bob, "Available", "available") // leaves talking: held for the debounce window, published after it
	time.Sleep(10 * time.Millisecond)
	if n, _, err := st.PublishHeld(ctx, 10); err != nil || n != 1 {
		t.Fatalf("publish held: %d, %v", n, err)
	}

	d := deliveries(t, st, tenant, ep.ID)
	if len(d) != 4 {
		t.Fatalf("%d deliveries for 4 events, want one each", len(d))
	}
	for _, x := range d {
		if x.Status != store.DeliveryDead || x.Attempts != 0 {
			t.Errorf("delivery of %s #%d: %s after %d attempts, want dead, never tried", x.User.ObjectID, x.Sequence, x.Status, x.Attempts)
		}
	}
	for _, x := range d[1:] {
		if !strings.Contains(x.LastError, "disabled") || !strings.Contains(x.LastError, "410 Gone") {
			t.Errorf("a delivery made while disabled says %q, want why it was not sent", x.LastError)
		}
	}

	if _, err := st.EnableEndpoint(ctx, tenant, ep.ID); err != nil {
		t.Fatal(err)
	}
	if r, err := st.ReplayEndpoint(ctx, tenant, ep.ID, store.ReplayFilter{}); err != nil || r != (store.Replayed{Replayed: 4}) {
		t.Fatalf("replay: %+v, %v; want all 4 back in the queue", r, err)
	}
	// The claim takes each user's oldest pending delivery first: the order
	// holds if, per user, the queue is the user's sequences in event order.
	got := dump(t, st.Pool(), `SELECT CASE WHEN d.user_object_id = $2 THEN 'ann' ELSE 'bob' END || ' #' || e.sequence || ' ' || d.status
		FROM deliveries d JOIN presence_events e ON e.id = d.event_id WHERE d.endpoint_id = $1 ORDER BY d.event_id`, ep.ID, ann)
	want := []string{"ann #1 pending", "bob #1 pending", "ann #2 pending", "bob #2 pending"}
	if !slices.Equal(got, want) {
		t.Errorf("queue in event order = %v, want %v", got, want)
	}
}

// TestRetentionKeepsEventsWhoseDeliveriesWaitForAReplay: the clean-up of
// old history deletes an event once each of its deliveries is delivered
// (or superseded), never while one is pending or dead — a dead one is
// replayable until someone replays or drops it (issue 15: dead ones went
// with their events).
func TestRetentionKeepsEventsWhoseDeliveriesWaitForAReplay(t *testing.T) {
	ctx := context.Background()
	st, tenant, ep := oneEndpoint(t, true)
	user := uuid.New()
	for _, a := range []string{"InACall", "InAMeeting", "Presenting", "Away"} {
		publish(t, st, tenant, user, a)
	}
	d := deliveries(t, st, tenant, ep.ID)
	for i, s := range []string{"delivered", "superseded", "dead", "pending"} {
		testkit.Exec(t, st.Pool(), `UPDATE deliveries SET status = $2 WHERE id = $1`, d[i].ID, s)
	}
	testkit.Exec(t, st.Pool(), `UPDATE presence_events SET created_at = now() - interval '60 days'`)
	if n, _, err := st.DeleteOldPresenceEvents(ctx, 30*24*time.Hour, 0, 100); err != nil || n != 2 {
		t.Errorf("deleted %d old events (%v), want the delivered and the superseded one", n, err)
	}
	left := deliveries(t, st, tenant, ep.ID)
	if len(left) != 2 || left[0].Status != store.DeliveryDead || left[1].Status != store.DeliveryPending {
		t.Errorf("left: %+v, want the dead and the pending delivery with their events", left)
	}
}

// TestAnEndpointEnabledOrDisabledWhileAChangeCommitsGetsItsDeliveryAsItEndsUp:
// a change whose transaction overlaps an endpoint's enabling or disabling
// queues its delivery as the endpoint is once both commit — pending at an
// enabled endpoint, dead at a disabled one — never pending at a disabled
// endpoint (sent to it) nor dead at an enabled one (held back until a
// replay nobody knows to make).
func TestAnEndpointEnabledOrDisabledWhileAChangeCommitsGetsItsDeliveryAsItEndsUp(t *testing.T) {
	ctx := context.Background()
	st, tenant, ep := oneEndpoint(t, false)
	status := func(user uuid.UUID) string {
		t.Helper()
		var s string
		if err := st.Pool().QueryRow(ctx, `SELECT status FROM deliveries WHERE user_object_id = $1`, user).Scan(&s); err != nil {
			t.Fatalf("the change's delivery: %v", err)
		}
		return s
	}
	// first holds its transaction open after its statement; second runs
	// meanwhile, and must wait for first's commit to be right.
	overlap := func(first, second func(tx store.Tx) error) {
		t.Helper()
		ran, commit, done := make(chan error, 1), make(chan struct{}), make(chan error, 1)
		go func() {
			done <- st.InTx(ctx, func(tx store.Tx) error {
				err := first(tx)
				ran <- err
				<-commit
				return err
			})
		}()
		if err := <-ran; err != nil {
			close(commit)
			t.Fatal(err)
		}
		secondDone := make(chan error, 1)
		go func() { secondDone <- st.InTx(ctx, second) }()
		time.Sleep(200 * time.Millisecond)
		close(commit)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := <-secondDone; err != nil {
			t.Fatal(err)
		}
	}
	change := func(user uuid.UUID) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			_, _, err := tx.ApplyPresence(ctx, store.PresenceChange{TenantID: tenant, UserID: user, Availability: "Busy", Activity: "InACall",
				MappedState: "talking", Source: "notification", ObservedAt: time.Now()})
			return err
		}
	}

	enabledFirst := uuid.New()
	overlap(func(tx store.Tx) error {
		_, err := tx.EnableEndpoint(ctx, tenant, ep.ID)
		return err
	}, change(enabledFirst))
	if s := status(enabledFirst); s != store.DeliveryPending {
		t.Errorf("a change committed just after the endpoint was enabled: %s, want pending", s)
	}

	changedFirst := uuid.New()
	overlap(change(changedFirst), func(tx store.Tx) error { return tx.DisableEndpoint(ctx, ep.ID, "by its admin") })
	if s := status(changedFirst); s != store.DeliveryDead {
		t.Errorf("a change committed just before the endpoint was disabled: %s, want dead like every other pending one", s)
	}
}

// TestDeadLetterCountsSayPerEndpointWhatWaitsForAReplayOrADrop: every
// endpoint of the tenant is counted — those held back by its disabling
// (paused: never tried), those that failed their schedule (dead), those
// the bound deleted, and the oldest's age — and another tenant's are not.
func TestDeadLetterCountsSayPerEndpointWhatWaitsForAReplayOrADrop(t *testing.T) {
	ctx := context.Background()
	st, tenant, off := oneEndpoint(t, true)
	for _, a := range []string{"InACall", "InAMeeting", "Presenting"} {
		publish(t, st, tenant, uuid.New(), a)
	}
	testkit.Exec(t, st.Pool(), `UPDATE deliveries SET status = 'dead', attempts = 12, created_at = now() - interval '2 days'
		WHERE id = (SELECT min(id) FROM deliveries)`)
	if err := st.DisableEndpoint(ctx, off.ID, "by its admin"); err != nil {
		t.Fatal(err)
	}
	publish(t, st, tenant, uuid.New(), "InACall")
	on, _ := st.CreateEndpoint(ctx, tenant, "https://b.example/hook", "whsec_dGVzdA==")
	testkit.Exec(t, st.Pool(), `UPDATE endpoints SET dead_letters_trimmed = 7 WHERE id = $1`, off.ID)
	other := storetest.Tenant(t, st.Pool(), "Other")
	st.CreateEndpoint(ctx, other, "https://c.example/hook", "whsec_dGVzdA==")
	publish(t, st, other, uuid.New(), "InACall")
	testkit.Exec(t, st.Pool(), `UPDATE deliveries SET status = 'dead' WHERE tenant_id = $1`, other)

	counts, err := st.DeadLetterCounts(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	got := counts[off.ID]
	if len(counts) != 2 || got.Paused != 3 || got.Dead != 1 || got.Trimmed != 7 || got.Oldest == nil ||
		time.Since(*got.Oldest) < 47*time.Hour || counts[on.ID] != (store.DeadLetters{}) {
		t.Errorf("counts = %+v; want the disabled endpoint's 3 paused, 1 dead, 7 trimmed, oldest 2 days, and zero for the other", counts)
	}
}

// TestDroppingDeadLettersLetsTheCleanUpDeleteTheirEvents: a drop deletes
// the dead and superseded deliveries its filter picks (as a replay picks
// them) and nothing pending or delivered, nor another tenant's; their old
// events then go with the next clean-up.
func TestDroppingDeadLettersLetsTheCleanUpDeleteTheirEvents(t *testing.T) {
	ctx := context.Background()
	st, tenant, ep := oneEndpoint(t, true)
	user := uuid.New()
	for _, a := range []string{"InACall", "InAMeeting", "Presenting", "Away", "InACall"} {
		publish(t, st, tenant, user, a)
	}
	d := deliveries(t, st, tenant, ep.ID)
	for i, s := range []string{"dead", "dead", "superseded", "delivered", "pending"} {
		testkit.Exec(t, st.Pool(), `UPDATE deliveries SET status = $2 WHERE id = $1`, d[i].ID, s)
	}
	testkit.Exec(t, st.Pool(), `UPDATE presence_events SET created_at = now() - interval '60 days'`)
	other := storetest.Tenant(t, st.Pool(), "Other")
	if n, err := st.DropDeadLetters(ctx, other, ep.ID, store.ReplayFilter{}); err != nil || n != 0 {
		t.Errorf("another tenant dropped %d (%v)", n, err)
	}
	if n, err := st.DropDeadLetters(ctx, tenant, ep.ID, store.ReplayFilter{IDs: []int64{d[1].ID, d[3].ID}}); err != nil || n != 1 {
		t.Errorf("drop by ids: %d (%v), want only the dead one of the two", n, err)
	}
	if n, err := st.DropDeadLetters(ctx, tenant, ep.ID, store.ReplayFilter{}); err != nil || n != 2 {
		t.Errorf("drop all: %d (%v), want the other dead and the superseded one", n, err)
	}
	if n, _, err := st.DeleteOldPresenceEvents(ctx, 30*24*time.Hour, 0, 100); err != nil || n != 4 {
		t.Errorf("the clean-up deleted %d events (%v), want all but the pending one's", n, err)
	}
	if left := deliveries(t, st, tenant, ep.ID); len(left) != 1 || left[0].Status != store.DeliveryPending {
		t.Errorf("left: %+v", left)
	}
}

// TestTheDeadLettersKeptPerUserAreBoundedOldestFirstAndCounted: beyond
// perUser dead letters of one user at one endpoint the oldest go, counted
// on the endpoint; each user's newest stay, other users' and other
// endpoints' are untouched, and a second pass has nothing to do.
func TestTheDeadLettersKeptPerUserAreBoundedOldestFirstAndCounted(t *testing.T) {
	ctx := context.Background()
	st, tenant, ep := oneEndpoint(t, false)
	ann, bob := uuid.New(), uuid.New()
	for _, a := range []string{"InACall", "InAMeeting", "Presenting", "Away", "InACall"} {
		publish(t, st, tenant, ann, a)
	}
	publish(t, st, tenant, bob, "InACall")
	publish(t, st, tenant, bob, "Away")
	if n, last, err := st.TrimDeadLetters(ctx, 3, 100, store.DeadLetterUser{}); err != nil || n != 2 || last != (store.DeadLetterUser{}) {
		t.Fatalf("trimmed %d, going on after %v (%v); want ann's 2 oldest, and done", n, last, err)
	}
	got := dump(t, st.Pool(), `SELECT CASE WHEN d.user_object_id = $2 THEN 'ann' ELSE 'bob' END || ' #' || e.sequence
		FROM deliveries d JOIN presence_events e ON e.id = d.event_id WHERE d.endpoint_id = $1 ORDER BY d.event_id`, ep.ID, ann)
	if want := []string{"ann #3", "ann #4", "ann #5", "bob #1", "bob #2"}; !slices.Equal(got, want) {
		t.Errorf("kept %v, want %v", got, want)
	}
	if n, _, err := st.TrimDeadLetters(ctx, 3, 100, store.DeadLetterUser{}); err != nil || n != 0 {
		t.Errorf("a second pass trimmed %d (%v)", n, err)
	}
	counts, _ := st.DeadLetterCounts(ctx, tenant)
	if c := counts[ep.ID]; c.Paused != 5 || c.Trimmed != 2 {
		t.Errorf("counts = %+v, want 5 paused and 2 trimmed", c)
	}
}
