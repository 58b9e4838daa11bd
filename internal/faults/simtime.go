package faults

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
)

// Simulated time. The processes of a scenario keep the host's clock (Go's
// time.Now and PostgreSQL's now() cannot be moved under a running
// process, and tokens signed on a moved clock would not be valid for the
// others); what moves is the state: graphsim's (POST /_sim/clock) and the
// product's database (storetest.AgeDatabase) age by the same d, so every
// subscription, lease, retry, due time and token expiry they hold is d
// further along, as if d had passed with nobody acting in it. FAULTS.md
// says what this simulates and what it does not.

// PassTime lets d pass at once for Graph and for the product. Graph ages
// first: a renewal the product makes in between is one it would have
// made. Traffic must be paused around it (Traffic.Pause), so that no
// notification is made on one side of the jump and its event stored on
// the other.
func (w *World) PassTime(ctx context.Context, d time.Duration) error {
	var clock graphsim.ClockState
	if err := w.Graph.control(ctx, http.MethodPost, "/_sim/clock", map[string]string{"advance": d.String()}, &clock); err != nil {
		return fmt.Errorf("graphsim: %w", err)
	}
	_, pool, err := w.openStore(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := storetest.AgeDatabase(ctx, pool, d); err != nil {
		return err
	}
	w.T.Logf("faults: %v passed (%s in all)", d, clock.Advanced)
	return nil
}

// PassTimeInSteps lets total pass in steps of at most step, with traffic
// tr (if any) paused for each jump, calling between after each: what a
// process would have done meanwhile (renew a subscription, retry a
// delivery) gets its chance at each step, as it would have in real time.
func (w *World) PassTimeInSteps(tr *Traffic, total, step time.Duration, between func(passed time.Duration)) {
	w.T.Helper()
	for passed := time.Duration(0); passed < total; {
		d := min(step, total-passed)
		if tr != nil {
			tr.Pause()
		}
		err := w.PassTime(context.Background(), d)
		if tr != nil {
			tr.Resume()
		}
		if err != nil {
			w.T.Fatalf("faults: letting %v pass: %v", d, err)
		}
		passed += d
		if between != nil {
			between(passed)
		}
	}
}

// CheckLastStates waits up to within until every user's presence as
// Graph shows it now is the state of the user's last event, and that
// event reached the platform (answered 2xx) — whatever Graph did or did
// not notify, the platform ends with each user's current state — and
// fails t where it is not so then. It returns how many of those last
// events came from a re-read (source repair).
func (w *World) CheckLastStates(t testing.TB, within time.Duration) (viaRepair int) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		problems, notes, repaired, err := w.lastStates(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(problems) == 0 || time.Now().After(deadline) {
			for _, n := range notes {
				t.Log(n)
			}
			for _, p := range problems {
				t.Error(p)
			}
			return repaired
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (w *World) lastStates(ctx context.Context) (problems, notes []string, viaRepair int, err error) {
	st, pool, err := w.openStore(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	defer pool.Close()
	got := map[string]bool{}
	for _, a := range w.Receiver.Arrivals() {
		if a.Status >= 200 && a.Status < 300 {
			got[a.WebhookID] = true
		}
	}
	for _, u := range w.Users {
		var p graphsim.Presence
		if err := w.Graph.control(ctx, http.MethodGet, "/_sim/users/"+u.ID.String()+"/presence", nil, &p); err != nil {
			return nil, nil, 0, err
		}
		events, err := st.UserTimeline(ctx, w.Tenant, u.ID, 50) // newest first
		if err != nil {
			return nil, nil, 0, err
		}
		i := slices.IndexFunc(events, func(e store.TimelineEvent) bool { return e.Sequence > 0 })
		switch {
		case i < 0:
			problems = append(problems, fmt.Sprintf("last state: user %s is %s/%s at Graph and has no published event", u.ID, p.Availability, p.Activity))
		case !strings.EqualFold(events[i].Availability, p.Availability) || !strings.EqualFold(events[i].Activity, p.Activity):
			problems = append(problems, fmt.Sprintf("last state: user %s is %s/%s at Graph; the last event (sequence %d, %s) says %s/%s",
				u.ID, p.Availability, p.Activity, events[i].Sequence, events[i].Source, events[i].Availability, events[i].Activity))
		case !got[events[i].UID.String()]:
			problems = append(problems, fmt.Sprintf("last state: user %s's last event (sequence %d, %s/%s) did not reach the platform",
				u.ID, events[i].Sequence, events[i].Availability, events[i].Activity))
		case events[i].Source == "repair":
			viaRepair++
		}
		if i >= 0 {
			e := events[i]
			notes = append(notes, fmt.Sprintf("last state: user %s %s/%s at Graph; last event sequence %d by %s, observed %s, stored %s",
				u.ID, p.Availability, p.Activity, e.Sequence, e.Source, e.ObservedAt.Format(stamp), e.CreatedAt.Format(stamp)))
		}
	}
	return problems, notes, viaRepair, nil
}

// SubscriptionsRenewed waits until every subscription the product holds
// for the tenant is more than margin from its expiry — the engine renewed
// what came due — or fails t after within.
func (w *World) SubscriptionsRenewed(t testing.TB, margin, within time.Duration) {
	t.Helper()
	var due, all int
	if !w.poll(t, within, func(ctx context.Context, st *store.Store) (bool, error) {
		subs, err := st.TenantSubscriptions(ctx, w.Tenant)
		due, all = 0, len(subs)
		for _, s := range subs {
			if s.ExpiresAt == nil || time.Until(*s.ExpiresAt) <= margin {
				due++
			}
		}
		return err == nil && due == 0 && all > 0, err
	}) {
		t.Fatalf("faults: %d of %d subscriptions not renewed within %v\n%s", due, all, within, w.Logs())
	}
}

// poll calls cond with the suite's store every 100 ms until it holds (true)
// or within has passed (false); an error fails t.
func (w *World) poll(t testing.TB, within time.Duration, cond func(context.Context, *store.Store) (bool, error)) bool {
	t.Helper()
	ctx := context.Background()
	st, pool, err := w.openStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for deadline := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
		ok, err := cond(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if ok || time.Now().After(deadline) {
			return ok
		}
	}
}
