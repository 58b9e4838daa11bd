package graphhook

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/intake"
	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

// unknownItems are n items of n different subscriptions nobody made.
func unknownItems(prefix string, n int) []string {
	items := make([]string, n)
	for i := range items {
		items[i] = item(fmt.Sprintf("%s-%d", prefix, i), "state-1", "u1")
	}
	return items
}

// A POST costs the database one lookup, however many subscriptions its
// items name: refusing an item costs nothing more than accepting one, so
// nothing is gained by giving up on a POST after so many refusals — and a
// genuine item after them is committed.
func TestAPostNamingAThousandUnknownSubscriptionsCostsOneLookupAndItsGenuineItemIsCommitted(t *testing.T) {
	f := newFixture(t)
	items := append(unknownItems("sub-x", 1000), item("sub-1", "state-1", "u1"))
	if code, b := f.post(t, "/graph/notifications", `{"value":[`+strings.Join(items, ",")+`]}`); code != http.StatusAccepted {
		t.Fatalf("POST: %d %s", code, b)
	}
	if n := f.lookups.n.Load(); n != 1 {
		t.Errorf("the POST sent %d statements on subscriptions, want 1", n)
	}
	if rows, items, _ := f.inbox(t); rows != 1 || items != 1 {
		t.Errorf("inbox: %d rows, %d items; want the genuine item", rows, items)
	}
}

// Forged items that repeat the ids they name cost one lookup, not one per
// POST: what matched no subscription is remembered.
func TestUnknownSubscriptionsNamedAgainCostNoLookup(t *testing.T) {
	f := newFixture(t)
	body := `{"value":[` + strings.Join(unknownItems("sub-x", 100), ",") + `]}`
	for range 3 {
		if code, b := f.post(t, "/graph/notifications", body); code != http.StatusAccepted {
			t.Fatalf("POST: %d %s", code, b)
		}
	}
	if n := f.lookups.n.Load(); n != 1 {
		t.Errorf("three POSTs of the same 100 unknown subscriptions sent %d statements on subscriptions, want 1", n)
	}
	if rows, _, _ := f.inbox(t); rows != 0 {
		t.Errorf("forged POSTs left %d inbox rows", rows)
	}
}

// A subscription id refused as unknown can come to be ours — a subscription
// Graph already held is adopted after a 409 (engine.resolveConflict) — and
// its notifications are accepted at once, not when the memory of the
// refusal expires: the change is announced to every receiver.
func TestASubscriptionAdoptedAfterItsIdWasRefusedIsAcceptedAtOnce(t *testing.T) {
	f := newFixture(t)
	adopted := `{"value":[` + item("sub-adopted", "state-9", "u1") + `]}`
	if code, b := f.post(t, "/graph/notifications", adopted); code != http.StatusAccepted {
		t.Fatalf("POST: %d %s", code, b)
	}
	if rows, _, _ := f.inbox(t); rows != 0 {
		t.Fatalf("an unknown subscription's item was committed")
	}
	// The subscription being created (clientState "state-2") adopts it.
	testkit.Exec(t, f.pool, `UPDATE subscriptions SET graph_id = 'sub-adopted', client_state_hash = $1 WHERE graph_id IS NULL`,
		store.ClientStateHash("state-9"))
	start := time.Now()
	for {
		if code, b := f.post(t, "/graph/notifications", adopted); code != http.StatusAccepted {
			t.Fatalf("POST: %d %s", code, b)
		}
		if rows, _, _ := f.inbox(t); rows == 1 {
			break
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("the adopted subscription's item is still refused %v after the adoption", time.Since(start))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// On the receiver's own pool — one connection for lookups, the others for
// the commit — lookups held up by whatever floods the URL never take the
// commit's connections: a POST of a subscription already known is
// committed while they wait.
func TestLookupsHeldUpNeverTakeTheCommitsConnections(t *testing.T) {
	f := newFixture(t)
	cfg, err := pgxpool.ParseConfig(f.pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 2 // DefaultLookups and one committer
	own, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(own.Close)
	c := intake.NewCommitter(own, intake.CommitterOptions{Workers: 1})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go c.Run(ctx)
	r := chi.NewRouter()
	r.Route("/graph", New(Deps{Subs: store.New(own, nil), Committer: c}).Routes)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	post := func(body string) int {
		resp, err := http.Post(srv.URL+"/graph/notifications", "application/json", strings.NewReader(body))
		if err != nil {
			t.Error(err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	genuine := `{"value":[` + item("sub-1", "state-1", "u1") + `]}`
	if code := post(genuine); code != http.StatusAccepted { // sub-1 is known from now on
		t.Fatalf("first POST: %d", code)
	}

	tx, err := f.pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	testkit.Exec(t, tx, `LOCK TABLE subscriptions IN ACCESS EXCLUSIVE MODE`)
	// The flood never lets up: each POST's lookup waits out its deadline,
	// and the next takes its place.
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-done:
					return
				default:
				}
				post(`{"value":[` + strings.Join(unknownItems(fmt.Sprintf("flood-%d-%d", i, n), 10), ",") + `]}`)
			}
		})
	}
	defer func() { close(done); tx.Rollback(context.Background()); wg.Wait() }()
	time.Sleep(Deadline + 200*time.Millisecond) // the first POSTs gave up, the next are waiting
	for range 3 {
		if code := post(genuine); code != http.StatusAccepted {
			t.Fatalf("a known subscription's POST while lookups are held up: %d, want 202", code)
		}
	}
}
