package enginetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/presence"
	"presencebridge/internal/store"
)

// Syncs asked for through the API: the operation rides on the re-read
// queue, and the engine's pass records what really happened to it.

// askSync creates a sync of user (nil: the tenant) as POST /api/v1/sync does.
func (b *bridge) askSync(user *uuid.UUID) store.Operation {
	b.t.Helper()
	var o store.Operation
	err := b.st.InTx(b.t.Context(), func(tx store.Tx) (err error) {
		o, err = tx.CreateSyncOperation(b.t.Context(), b.tenant, user, "apikey:test")
		return err
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return o
}

func (b *bridge) operation(o store.Operation) store.Operation {
	b.t.Helper()
	got, err := b.st.GetOperation(context.Background(), b.tenant, o.ID)
	if err != nil {
		b.t.Fatal(err)
	}
	return got
}

// position is the tenant's newest stream position.
func (b *bridge) position() int64 {
	b.t.Helper()
	pos, err := b.st.StreamPosition(b.t.Context(), b.tenant)
	if err != nil {
		b.t.Fatal(err)
	}
	return pos
}

// published lists the tenant's events published after stream position
// after, as the event stream and the webhooks carry them.
func (b *bridge) published(after int64) []presence.EventData {
	b.t.Helper()
	evs, err := b.st.EventsAfter(b.t.Context(), b.tenant, after, 100_000)
	if err != nil {
		b.t.Fatal(err)
	}
	out := make([]presence.EventData, len(evs))
	for i, e := range evs {
		out[i] = e.Data
	}
	return out
}

// lastSent is each user's newest published event.
func lastSent(evs []presence.EventData) map[uuid.UUID]presence.EventData {
	last := map[uuid.UUID]presence.EventData{}
	for _, e := range evs {
		last[e.User.ObjectID] = e
	}
	return last
}

// resentAsNew says what is wrong with ev as the re-sending of the unchanged
// state before: "" when it is a new event (new id, the user's next
// sequence, source sync) with the same state.
func resentAsNew(ev, before presence.EventData) string {
	switch {
	case ev.EventID == before.EventID:
		return "the same event id as before"
	case ev.Sequence != before.Sequence+1:
		return fmt.Sprintf("sequence %d after %d", ev.Sequence, before.Sequence)
	case ev.Source != "sync":
		return "source " + ev.Source
	case ev.Availability != before.Availability || ev.Activity != before.Activity || ev.State != before.State:
		return fmt.Sprintf("%s/%s (%s), not the unchanged %s/%s (%s)", ev.Availability, ev.Activity, ev.State,
			before.Availability, before.Activity, before.State)
	}
	return ""
}

// deliveriesOfEvent counts the webhook deliveries of an event.
func (b *bridge) deliveriesOfEvent(id uuid.UUID) int {
	b.t.Helper()
	var n int
	if err := b.pool.QueryRow(b.t.Context(), `SELECT count(*) FROM deliveries d JOIN presence_events e ON e.id = d.event_id
		WHERE e.uid = $1`, id).Scan(&n); err != nil {
		b.t.Fatal(err)
	}
	return n
}

// syncBridge is a tenant of 10 users after its first pass, which sent each
// user's first event (to the one endpoint, too).
func syncBridge(t *testing.T) (*bridge, *worker) {
	t.Helper()
	// No pipeline: Graph's notifications reach a bare receiver, so only
	// re-reads make events.
	b := newBridge(t, bridgeOptions{users: 10, monitors: 1, authorized: 1})
	if _, err := b.st.CreateEndpoint(t.Context(), b.tenant, "https://platform.example/hook", "whsec_c3luYw=="); err != nil {
		t.Fatal(err)
	}
	w := b.worker(0, nil)
	if _, _, err := w.runner.Tenant(t.Context(), b.tenant); err != nil {
		t.Fatal(err)
	}
	if n := len(lastSent(b.published(0))); n != 10 {
		t.Fatalf("the first pass sent %d users' presence, want 10", n)
	}
	return b, w
}

func TestASyncOfAUserWhosePresenceDidNotChangeSendsItAgainAsANewEvent(t *testing.T) {
	b, w := syncBridge(t)
	u := b.ten.Users[3]
	before, from := lastSent(b.published(0))[u.ID], b.position()
	o := b.askSync(&u.ID)
	rep, _, err := w.runner.Tenant(t.Context(), b.tenant)
	if err != nil || rep.Repaired != 0 || rep.Resent != 1 {
		t.Fatalf("pass: %+v, %v; want 1 resent", rep, err)
	}
	got := b.published(from)
	if len(got) != 1 || got[0].User.ObjectID != u.ID {
		t.Fatalf("published %+v; want exactly one event, for %s", got, u.UPN)
	}
	if why := resentAsNew(got[0], before); why != "" {
		t.Errorf("the sync's event: %s (%+v after %+v)", why, got[0], before)
	}
	if n := b.deliveriesOfEvent(got[0].EventID); n != 1 {
		t.Errorf("%d webhook deliveries of the sync's event, want 1", n)
	}
	if got := b.operation(o); got.Status != store.OperationSucceeded {
		t.Errorf("sync: %+v", got)
	}
}

func TestASyncWhoseReadIsOlderThanWhatWeHoldSendsWhatWeHold(t *testing.T) {
	b, w := syncBridge(t)
	ctx := t.Context()
	u := b.ten.Users[5]
	before, from := lastSent(b.published(0))[u.ID], b.position()
	// Graph answers the re-read with a presence older (by its
	// sequenceNumber) than the one we hold, as a lagging replica would.
	if err := b.e.Sim.SetTeamsPresence(u.ID, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(ctx, `UPDATE presence SET graph_sequence = 'z' WHERE user_object_id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	b.askSync(&u.ID)
	if _, _, err := w.runner.Tenant(ctx, b.tenant); err != nil {
		t.Fatal(err)
	}
	got := b.published(from)
	if len(got) != 1 {
		t.Fatalf("published %+v; want exactly one event, for %s", got, u.UPN)
	}
	if why := resentAsNew(got[0], before); why != "" {
		t.Errorf("the sync's event: %s", why)
	}
}

func TestATenantSyncSendsEveryMonitoredUsersUnchangedPresenceAgain(t *testing.T) {
	b, w := syncBridge(t)
	ctx := t.Context()
	before, from := lastSent(b.published(0)), b.position()
	o := b.askSync(nil)
	rep, _, err := w.runner.Tenant(ctx, b.tenant)
	if err != nil || rep.Repaired != 0 || rep.Resent != 10 {
		t.Fatalf("pass: %+v, %v; want 10 resent", rep, err)
	}
	got := map[uuid.UUID][]presence.EventData{}
	for _, ev := range b.published(from) {
		got[ev.User.ObjectID] = append(got[ev.User.ObjectID], ev)
	}
	monitored, err := b.st.MonitoredUsers(ctx, b.tenant)
	if err != nil || len(monitored) != 10 {
		t.Fatalf("monitored users %v, %v", monitored, err)
	}
	for _, s := range monitored {
		u := uuid.MustParse(s)
		if evs := got[u]; len(evs) != 1 {
			t.Errorf("user %s: %d events, want exactly one", u, len(evs))
		} else if why := resentAsNew(evs[0], before[u]); why != "" {
			t.Errorf("user %s: %s", u, why)
		}
	}
	if len(got) != len(monitored) {
		t.Errorf("events for %d users, want the %d monitored", len(got), len(monitored))
	}
	if got := b.operation(o); got.Status != store.OperationSucceeded {
		t.Errorf("sync: %+v", got)
	}
}

func TestARepairThatFindsNothingChangedSendsNoEvent(t *testing.T) {
	b, w := syncBridge(t)
	ctx := t.Context()
	from := b.position()
	// Re-reads the intake and lifecycle notifications ask for, drained by
	// the next pass.
	if err := b.st.QueueResync(ctx, b.tenant, b.ten.Users[0].ID, "basic notification"); err != nil {
		t.Fatal(err)
	}
	if err := b.st.QueueMonitorResync(ctx, b.tenant, b.monitors[0], "missed notifications"); err != nil {
		t.Fatal(err)
	}
	if rep, _, err := w.runner.Tenant(ctx, b.tenant); err != nil || rep.Repaired != 0 || rep.Resent != 0 {
		t.Fatalf("draining the queue: %+v, %v", rep, err)
	}
	if q, _ := b.st.PendingResyncs(ctx, b.tenant, 100); len(q.Users) != 0 {
		t.Fatalf("%d users still queued: the queued re-reads did not run", len(q.Users))
	}
	// The periodic repair re-reads everyone.
	b.e.Advance(10 * time.Minute)
	if rep, _, err := w.runner.Tenant(ctx, b.tenant); err != nil || rep.Repaired != 0 || rep.Resent != 0 {
		t.Fatalf("periodic repair: %+v, %v", rep, err)
	}
	if st, err := b.st.EngineStatus(ctx, b.tenant); err != nil || st.LastRepairAt == nil || b.e.Now().Sub(*st.LastRepairAt) > time.Minute {
		t.Fatalf("the periodic repair did not run: %+v, %v", st, err)
	}
	if got := b.published(from); len(got) != 0 {
		t.Errorf("%d events after re-reads that found nothing changed, want none: %+v", len(got), got)
	}
}

func TestASyncReReadsItsUserFromGraphInTheNextPassAndSucceeds(t *testing.T) {
	// No pipeline: Graph's notifications reach a bare receiver, so only a
	// re-read brings a change in.
	b := newBridge(t, bridgeOptions{users: 10, monitors: 1, authorized: 1})
	w := b.worker(0, nil)
	ctx := t.Context()
	if _, _, err := w.runner.Tenant(ctx, b.tenant); err != nil {
		t.Fatal(err)
	}
	u := b.ten.Users[3]
	if err := b.e.Sim.SetTeamsPresence(u.ID, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	one, all := b.askSync(&u.ID), b.askSync(nil)
	if a, _ := b.held(u.ID); a == "Busy" {
		t.Fatal("the change arrived before the sync ran")
	}
	// Not the periodic repair (due in 10 minutes): the pass drains the
	// queue. One user changed; the tenant's sync sends the nine others'
	// unchanged state again.
	rep, _, err := w.runner.Tenant(ctx, b.tenant)
	if err != nil || rep.Repaired != 1 || rep.Resent != 9 {
		t.Fatalf("pass: %+v, %v; want 1 repaired, 9 resent", rep, err)
	}
	for _, o := range []store.Operation{one, all} {
		if got := b.operation(o); got.Status != store.OperationSucceeded || got.StartedAt == nil || got.FinishedAt == nil {
			t.Errorf("sync %v: %+v", o.UserID, got)
		}
	}
	var source string
	b.pool.QueryRow(ctx, `SELECT source FROM presence_events WHERE user_object_id = $1 ORDER BY id DESC LIMIT 1`, u.ID).Scan(&source)
	if a, act := b.held(u.ID); a != "Busy" || act != "InACall" || source != "sync" {
		t.Errorf("after the sync: %s/%s by %q", a, act, source)
	}
}

func TestASyncFailsWithTheReasonWhenGraphCannotBeReadAndItsUsersStayQueued(t *testing.T) {
	b := newBridge(t, bridgeOptions{users: 10, monitors: 1, authorized: 1})
	ctx := t.Context()
	if _, _, err := b.worker(0, nil).runner.Tenant(ctx, b.tenant); err != nil {
		t.Fatal(err)
	}
	o := b.askSync(nil)
	// The app-only token the re-read needs cannot be had (a new worker has
	// none cached).
	b.e.Sim.AddTokenFault(graphsim.TokenFault{ClientID: b.app.ClientID, Grant: "client_credentials", Status: 503,
		Error: "temporarily_unavailable", Message: "the service is unavailable"})
	if _, _, err := b.worker(0, nil).runner.Tenant(ctx, b.tenant); err == nil {
		t.Fatal("the pass reported no error")
	}
	got := b.operation(o)
	if got.Status != store.OperationFailed || !strings.Contains(got.Error, "could not be re-read from Microsoft Graph") ||
		!strings.Contains(got.Error, "temporarily_unavailable") {
		t.Errorf("after a failed re-read: %+v", got)
	}
	if q, _ := b.st.PendingResyncs(ctx, b.tenant, 100); len(q.Users) != 10 || len(q.Sync) != 10 {
		t.Errorf("%d users left queued (%d a sync's), want all 10 for the next pass", len(q.Users), len(q.Sync))
	}
}
