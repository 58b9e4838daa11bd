package graphhook

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
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
