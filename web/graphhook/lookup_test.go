package graphhook

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

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
