package faults

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/store"
)

// Ledger reads the ledger now: graphsim's journal, the product's history
// of each user (through the store, on the server's socket) and what the
// receiver got.
func (w *World) Ledger(ctx context.Context) (Ledger, error) {
	j, err := w.Graph.Journal(ctx)
	if err != nil {
		return Ledger{}, err
	}
	if j.Missed > 0 {
		return Ledger{}, fmt.Errorf("graphsim's journal was full: %d notifications not journaled", j.Missed)
	}
	st, pool, err := w.openStore(ctx)
	if err != nil {
		return Ledger{}, err
	}
	defer pool.Close()
	backlog, err := st.InboxBacklog(ctx)
	if err != nil {
		return Ledger{}, err
	}
	quarantine, err := st.QuarantinedInbox(ctx, 10_000)
	if err != nil {
		return Ledger{}, err
	}
	history := map[uuid.UUID][]store.TimelineEvent{}
	for _, u := range w.Users {
		events, err := st.UserTimeline(ctx, w.Tenant, u.ID, 1_000_000)
		if err != nil {
			return Ledger{}, err
		}
		slices.Reverse(events) // oldest first
		history[u.ID] = events
	}
	return account(observed{journal: j, tenant: w.Graph.Seed.Tenants[0].ID.String(), history: history, backlog: backlog,
		quarantine: quarantine, arrivals: w.Receiver.Arrivals(), endpoint: w.Receiver.URL}), nil
}

// Settle waits until the world is quiet — graphsim has nothing queued
// or in flight, and no acknowledged notification is pending or missing —
// or within has passed, and returns the ledger then.
func (w *World) Settle(within time.Duration) Ledger {
	w.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within+30*time.Second)
	defer cancel()
	deadline := time.Now().Add(within)
	for {
		stats, err := w.Graph.Stats(ctx)
		if err != nil {
			w.T.Fatalf("faults: %v", err)
		}
		l, err := w.Ledger(ctx)
		if err != nil {
			w.T.Fatalf("faults: ledger: %v", err)
		}
		quiet := stats.Queued == 0 && stats.InFlight == 0 && l.Unacked == 0 && l.Pending == 0 && l.Lost == 0 && l.InboxBacklog == 0
		if quiet || time.Now().After(deadline) {
			return l
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Expect says what a scenario allows beyond the rules every scenario
// keeps (nothing lost, duplicates only under one webhook-id and no state
// sent twice under new ones, each user's webhooks in order, every
// signature valid).
type Expect struct {
	Pending bool // deliveries may still wait (a receiver still failing)
	// Overtaken: the product may find notifications stale that Graph
	// delivered in order (a backlog worked by parallel processors after a
	// fault). Those Graph itself delivered after a later version are always
	// allowed: Graph does not promise order; sequenceNumber is for that.
	Overtaken bool
	Dead      bool // dead letters are expected (a receiver that answers 410)
	// Repaired: acknowledged notifications may have been dropped where a
	// later re-read of the user stood in for them (the subscription they
	// came for lapsed and was replaced: Ledger.ByRepair).
	Repaired bool
}

// Check prints the ledger (each user, the problems, the summary) and
// fails t where it breaks the rules.
func (w *World) Check(l Ledger, e Expect) {
	w.T.Helper()
	for _, u := range l.Users {
		w.T.Log(u)
	}
	for _, p := range l.Problems {
		w.T.Log(p)
	}
	w.T.Log(l.Summary())
	fail := func(format string, args ...any) {
		w.T.Helper()
		w.T.Errorf(format, args...)
	}
	switch {
	case l.Acked == 0:
		fail("the scenario acknowledged no notification: it checked nothing")
	case l.Delivered == 0:
		fail("no acknowledged notification was delivered")
	}
	if l.Lost > 0 || l.NotReceived > 0 || l.NotQueued > 0 {
		fail("lost: %d acknowledged notifications, %d events recorded delivered but never received, %d never queued for the endpoint",
			l.Lost, l.NotReceived, l.NotQueued)
	}
	if l.Conflicts > 0 || l.OutOfOrder > 0 || l.Unverified > 0 || l.Repeats > 0 {
		fail("downstream: %d conflicting webhook-ids, %d out of order, %d unverified, %d states sent again under new ids",
			l.Conflicts, l.OutOfOrder, l.Unverified, l.Repeats)
	}
	if l.Quarantined > 0 {
		fail("%d inbox rows quarantined (%d acknowledged notifications in them): Graph's genuine notifications must be applied", l.Quarantined, l.Held)
	}
	if l.FinalDelivered < l.UsersNotified && !e.Pending && !e.Dead {
		fail("%d of %d users' last state did not reach the platform", l.UsersNotified-l.FinalDelivered, l.UsersNotified)
	}
	if l.Pending > 0 && !e.Pending {
		fail("%d acknowledged notifications still pending when the world settled", l.Pending)
	}
	if l.OvertakenHere > 0 && !e.Overtaken {
		fail("%d acknowledged notifications were found stale though Graph delivered them before the later version applied first",
			l.OvertakenHere)
	}
	if l.ByRepair > 0 && !e.Repaired {
		fail("%d acknowledged notifications were never applied, only covered by a later re-read", l.ByRepair)
	}
	if l.Dead > 0 && !e.Dead {
		fail("%d acknowledged notifications dead-lettered", l.Dead)
	}
	if w.T.Failed() {
		w.T.Logf("product logs:\n%s", w.Logs())
	}
}

// WaitGraph waits until graphsim's delivery statistics satisfy cond.
func (w *World) WaitGraph(t testing.TB, what string, cond func(graphsim.NotificationStats) bool, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, err := w.Graph.Stats(context.Background())
		if err != nil {
			t.Fatalf("faults: %v", err)
		}
		if cond(st) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("faults: no %s within %s (graphsim: %+v)", what, within, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Retried counts the notifications Graph had to send more than once
// before one POST was acknowledged, or that it never got acknowledged:
// those the fault touched.
func (w *World) Retried(t testing.TB) int {
	t.Helper()
	j, err := w.Graph.Journal(context.Background())
	if err != nil {
		t.Fatalf("faults: %v", err)
	}
	n := 0
	for _, e := range j.Entries {
		if e.Posts > e.Acks {
			n++
		}
	}
	return n
}
