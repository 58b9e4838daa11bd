//go:build faults

package faults

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/engine"
	"presencebridge/internal/graphsim"
	"presencebridge/internal/store"
)

// The step of simulated time: shorter than the renewal window's near end
// (engine.RenewLatest), so a subscription that comes due at one step is
// still alive for the engine to renew before the next, as in real time.
const simStep = 5 * time.Minute

// (i) The worker roles are stopped (SIGTERM, as a deploy gone wrong
// would leave them) for 70 minutes, longer than a presence subscription
// lives (55 minutes asked, 60 at most): the web role keeps acknowledging
// Graph's notifications into the inbox while the subscriptions live,
// Graph sends reauthorizationRequired in their last 15 minutes, then
// deletes them and notifies nothing more while people's presence keeps
// changing. The workers start again: the engine finds the subscriptions
// expired, creates new ones and re-reads every user. Every acknowledged
// notification is delivered or overtaken by a newer state (the inbox's
// notifications for the lapsed subscriptions may be dropped once they are
// replaced: a re-read stands in for them), and every user's current
// presence — changed while no subscription existed — reaches the
// platform.
func TestWorkersStoppedFor70MinutesRecreateLapsedSubscriptionsAndRepairEveryUser(t *testing.T) {
	const outage = 70 * time.Minute
	s := sized()
	w := Start(t, Options{Users: s.users, Split: true, Workers: 2})
	old := graphSubscriptionIDs(t, w)
	if len(old) == 0 {
		t.Fatal("no subscription at graphsim before the fault")
	}
	tr := w.Drive(s.rate)
	time.Sleep(s.load / 2)
	for _, worker := range []string{"worker-1", "worker-2"} {
		if err := w.Proc(worker).Stop(15 * time.Second); err != nil {
			t.Errorf("SIGTERM %s: %v", worker, err)
		}
	}
	t.Logf("workers stopped after %d presence changes", tr.Changes())
	time.Sleep(s.load / 2) // acknowledged into the inbox, nothing applied
	lifecycleBefore := graphStats(t, w).LifecycleSent
	w.PassTimeInSteps(tr, outage, simStep, func(time.Duration) {
		// graphsim's due work ran with the jump: its lifecycle POSTs
		// reach the web role before the next.
		w.WaitGraph(t, "graphsim idle", func(st graphsim.NotificationStats) bool { return st.Queued == 0 && st.InFlight == 0 }, 30*time.Second)
	})
	if left := graphSubscriptionIDs(t, w); len(left) > 0 {
		t.Fatalf("%d subscriptions still live at graphsim %v after a 55-minute lifetime", len(left), outage)
	}
	lifecycle := graphStats(t, w).LifecycleSent - lifecycleBefore
	if lifecycle == 0 {
		t.Error("graphsim sent no reauthorizationRequired in the subscriptions' last 15 minutes")
	}

	// People go on changing presence; with no subscription Graph notifies
	// nothing.
	made, journaled := tr.Changes(), len(graphJournal(t, w).Entries)
	time.Sleep(s.load / 2)
	unnotified := tr.Stop() - made
	if n := len(graphJournal(t, w).Entries); n != journaled || unnotified == 0 {
		t.Fatalf("with no subscription: %d changes made, %d notifications made (want some changes, no notification)", unnotified, n-journaled)
	}
	t.Logf("%v passed: graphsim sent %d reauthorizationRequired and deleted every subscription; %d changes made with none",
		outage, lifecycle, unnotified)

	// The workers come back to a quiet tenant: only the engine's re-read
	// can bring the users' current states.
	for _, worker := range []string{"worker-1", "worker-2"} {
		w.StartRole(worker)
	}
	repaired := w.CheckLastStates(t, 60*time.Second)
	now := graphSubscriptionIDs(t, w)
	t.Logf("workers back: %d subscriptions recreated; every user's current state at the platform, %d of %d by a re-read",
		len(now), repaired, len(w.Users))
	if repaired == 0 {
		t.Error("no user's last state came from a re-read: the repair after the gap did not run, or found nothing")
	}
	if len(now) != len(old) || slices.ContainsFunc(now, func(id string) bool { return slices.Contains(old, id) }) {
		t.Errorf("graphsim's subscriptions: %v before, %v after; want as many, all new", old, now)
	}

	// The new subscriptions carry the next changes.
	t.Logf("%d presence changes", made+unnotified+w.For(s.rate, s.load))
	l := w.Settle(90 * time.Second)
	w.Check(l, Expect{Overtaken: true, Repaired: true})
	w.CheckLastStates(t, 0)
	t.Logf("acknowledged notifications overtaken by a re-read (never applied): %d", l.ByRepair)
}

// (j) The telephony platform is down for 2 hours (its load balancer
// answers 503) while presence keeps changing: deliveries are retried on
// their schedule (seconds apart, then minutes; it runs to 24 h), and once
// the endpoint's circuit opens, by its probes; older states are
// superseded by their user's newest, so that each user has one state
// waiting; the endpoint stays enabled — the product disables an endpoint
// only on 410 Gone, and dead-letters a delivery only after 24 hours. The
// platform comes back: each user's latest state arrives, and no older
// one after it came back; superseded deliveries are kept (the
// replay keeps them back: each user's newer state is there already),
// nothing is lost and nothing arrives out of order. The engine keeps the
// subscriptions renewed through the 2 hours.
func TestPlatformDownFor2HoursGetsEachUsersLatestStateWhenBack(t *testing.T) {
	const outage = 2 * time.Hour
	s := sized()
	w := Start(t, Options{Users: s.users})
	ctx := context.Background()
	tr := w.Drive(s.rate)
	time.Sleep(s.load / 2)
	down := time.Now()
	w.Receiver.SetAnswer(func(Arrival) Answer { return Answer{Status: http.StatusServiceUnavailable} })
	time.Sleep(s.load / 2) // the schedule's first seconds, in real time; the circuit opens
	w.PassTimeInSteps(tr, outage, simStep, func(passed time.Duration) {
		w.SubscriptionsRenewed(t, engine.RenewLatest, 60*time.Second)
		// Each step lasts until the platform is tried again (a delivery
		// that came due, or the open circuit's probe, every 5 s at most).
		tried := failedSince(w, down)
		if !w.Receiver.WaitFor(ctxFor(t, 20*time.Second), func([]Arrival) bool { return failedSince(w, down) > tried }) {
			t.Fatalf("the platform was not tried again within 20 s after %v down", passed)
		}
	})
	t.Logf("%d presence changes during the outage", tr.Stop())

	st, pool, err := w.openStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ep, err := w.ReceiverEndpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !ep.Enabled {
		t.Errorf("the endpoint was disabled by %v of 503s; only a 410 disables one", outage)
	}
	// The oldest state the platform has not got is as old as the outage,
	// by the database's clock: the time passed for the product.
	oldest := w.oldestUndelivered(t, st)
	if oldest < outage {
		t.Errorf("the oldest undelivered state is %v old after %v down: simulated time did not pass for the product", oldest, outage)
	}
	t.Logf("after %v down: the oldest undelivered state is %v old; %d attempts answered 503", outage, oldest.Round(time.Second), failedSince(w, down))

	// Latest state wins: while the endpoint is down each user's older
	// states are superseded by their newest, so the platform, back, gets
	// one state per user — not the 2 hours it missed.
	waiting := w.pendingByUser(t, 15*time.Second, 1)
	back := time.Now()
	w.Receiver.SetAnswer(nil)
	w.CheckLastStates(t, 60*time.Second)
	t.Logf("every user's latest state reached the platform %v after it came back (%d deliveries were waiting)",
		time.Since(back).Round(time.Millisecond), waiting)
	if stale := olderAfter(w.Receiver.Arrivals(), back); stale > 0 {
		t.Errorf("%d states older than their user's newest reached the platform after it came back: latest state did not win", stale)
	}
	l := w.Settle(90 * time.Second)
	w.Check(l, Expect{Overtaken: true})
	if l.Superseded == 0 {
		t.Error("no delivery was superseded: the outage bit nothing")
	}

	// The superseded deliveries are kept, and replayable: the replay
	// keeps each of them back, as its user's newer state is there.
	backlog, err := st.Backlogs(ctx, w.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	var b struct{ pending, dead, superseded int }
	for id, x := range backlog {
		if id.String() == ep.ID {
			b.pending, b.dead, b.superseded = x.Pending, x.Dead, x.Superseded
		}
	}
	var replayed struct{ Replayed, Kept int64 }
	if _, err := w.API(ctx, http.MethodPost, "/endpoints/"+ep.ID+"/replay", map[string]any{}, &replayed); err != nil {
		t.Fatal(err)
	}
	t.Logf("kept: %d superseded, %d dead, %d pending; replay: %d replayed, %d kept back", b.superseded, b.dead, b.pending, replayed.Replayed, replayed.Kept)
	if b.superseded < l.Superseded || b.dead != 0 || b.pending != 0 || replayed.Replayed != 0 || replayed.Kept != int64(b.superseded) {
		t.Errorf("want the %d superseded deliveries kept, none dead or pending, and the replay to keep every one back", l.Superseded)
	}
}

// pendingByUser waits up to within until no user has more than most
// deliveries pending at the receiver's endpoint, and returns how many are
// pending then; it fails t if some user has more.
func (w *World) pendingByUser(t *testing.T, within time.Duration, most int) int {
	t.Helper()
	var over map[string]int
	total := 0
	if !w.poll(t, within, func(ctx context.Context, st *store.Store) (bool, error) {
		pending := map[string]int{}
		total, over = 0, map[string]int{}
		err := w.receiverDeliveries(ctx, st, func(user string, d store.TimelineDelivery) {
			if d.Status == store.DeliveryPending {
				total++
				if pending[user]++; pending[user] > most {
					over[user] = pending[user]
				}
			}
		})
		return len(over) == 0, err
	}) {
		t.Errorf("users with more than %d deliveries pending while the platform is down: %v", most, over)
	}
	return total
}

// oldestUndelivered is the age, by the database's clock (the host's), of
// the oldest delivery to the receiver that is pending or superseded.
func (w *World) oldestUndelivered(t *testing.T, st *store.Store) time.Duration {
	t.Helper()
	var first time.Time
	err := w.receiverDeliveries(context.Background(), st, func(_ string, d store.TimelineDelivery) {
		if (d.Status == store.DeliveryPending || d.Status == store.DeliverySuperseded) && (first.IsZero() || d.CreatedAt.Before(first)) {
			first = d.CreatedAt
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if first.IsZero() {
		return 0
	}
	return time.Since(first)
}

// olderAfter counts the webhooks answered 2xx after at whose user got a
// newer sequence (2xx) after at too: states sent though a newer one
// was waiting.
func olderAfter(arrivals []Arrival, at time.Time) int {
	newest := map[uuid.UUID]int64{}
	for _, a := range arrivals {
		if a.At.After(at) && a.Status >= 200 && a.Status < 300 {
			newest[a.User] = max(newest[a.User], a.Sequence)
		}
	}
	n := 0
	for _, a := range arrivals {
		if a.At.After(at) && a.Status >= 200 && a.Status < 300 && a.Sequence < newest[a.User] {
			n++
		}
	}
	return n
}

// failedSince counts the webhooks the platform answered 503 since at.
func failedSince(w *World, at time.Time) int {
	n := 0
	for _, a := range w.Receiver.Arrivals() {
		if a.At.After(at) && a.Status == http.StatusServiceUnavailable {
			n++
		}
	}
	return n
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func graphSubscriptionIDs(t *testing.T, w *World) []string {
	t.Helper()
	subs, err := w.Graph.Subscriptions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range subs {
		ids = append(ids, s.ID)
	}
	return ids
}

func graphStats(t *testing.T, w *World) graphsim.NotificationStats {
	t.Helper()
	st, err := w.Graph.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func graphJournal(t *testing.T, w *World) graphsim.Journal {
	t.Helper()
	j, err := w.Graph.Journal(context.Background())
	if err != nil {
		t.Fatal(fmt.Errorf("journal: %w", err))
	}
	return j
}

// receiverDeliveries calls fn with each user's deliveries to the receiver
// (the scenarios of this file alone use it: it lives under their tag).
func (w *World) receiverDeliveries(ctx context.Context, st *store.Store, fn func(user string, d store.TimelineDelivery)) error {
	for _, u := range w.Users {
		events, err := st.UserTimeline(ctx, w.Tenant, u.ID, 1_000_000)
		if err != nil {
			return err
		}
		for _, e := range events {
			for _, d := range e.Deliveries {
				if d.EndpointURL == w.Receiver.URL {
					fn(u.ID.String(), d)
				}
			}
		}
	}
	return nil
}
