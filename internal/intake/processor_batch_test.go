package intake

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"presencebridge/internal/notification"
)

// A backlog is drained in growing transactions: the fixed cost of one
// (the claim, the lookups, the commit's flush) is spread over more rows,
// so a queue that formed drains instead of staying (issue 16: with two
// rows a transaction at 1,000 changes/s, a 300-row backlog held every
// change back 3–9 s for as long as the load lasted). Each row here is one
// change, and a transaction's events share its xmin.
func TestADrainTakesMoreRowsATransactionWhileEveryBatchComesBackFull(t *testing.T) {
	f := newFixture(t)
	for i := range 30 {
		f.inbox(t, "change", f.rich(t, uuid.New(), "Busy", "InACall", fmt.Sprint(i)))
	}
	p := NewProcessor(f.st, ProcessorOptions{Keys: notification.NewKeys(f.key), Tokens: tokens{}, Batch: 2, MaxBatch: 8})
	st, err := p.Drain(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 30 || st.Applied != 30 {
		t.Fatalf("stats = %+v, want 30 rows applied", st)
	}
	// 2, 4, 8, 8, 8: five transactions, none over MaxBatch (fifteen of
	// two rows each without the growth).
	if n := f.count(t, `SELECT count(DISTINCT xmin::text) FROM presence_events`); n != 5 {
		t.Errorf("the drain applied its 30 rows in %d transactions, want 5 (2, 4, 8, 8, 8)", n)
	}
	if n := f.count(t, `SELECT max(n) FROM (SELECT count(*) AS n FROM presence_events GROUP BY xmin::text) x`); n != 8 {
		t.Errorf("the largest transaction took %d rows, want MaxBatch's 8", n)
	}

	// The next drain starts small again: a lone change is not held for a
	// batch to fill.
	f.inbox(t, "change", f.rich(t, uuid.New(), "Away", "Away", "31"))
	f.inbox(t, "change", f.rich(t, uuid.New(), "Away", "Away", "32"))
	f.inbox(t, "change", f.rich(t, uuid.New(), "Away", "Away", "33"))
	if _, err := p.ProcessBatch(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := f.count(t, `SELECT count(*) FROM inbox`); n != 1 {
		t.Errorf("one batch left %d rows of 3, want 1 (Batch is 2)", n)
	}
}

// A drain does not grow a batch that already carried growItems items:
// Graph puts up to 1,000 items in a POST, and rows that large make a long
// transaction at the batch they started with. Basic items (a re-read
// queued each, in the batch's transaction) spare the test the unwraps.
func TestADrainDoesNotGrowABatchThatCarriedManyItems(t *testing.T) {
	f := newFixture(t)
	for range 6 {
		items := make([]map[string]any, growItems/2+1)
		for i := range items {
			items[i] = f.rich(t, uuid.New(), "Busy", "Busy", "1")
			delete(items[i], "encryptedContent")
		}
		f.inbox(t, "change", items...)
	}
	p := NewProcessor(f.st, ProcessorOptions{Keys: notification.NewKeys(f.key), Tokens: tokens{}, Batch: 2, MaxBatch: 8})
	st, err := p.Drain(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := 6 * (growItems/2 + 1); st.Rows != 6 || st.Items != want || st.Resync != want {
		t.Fatalf("stats = %+v, want 6 rows of %d items re-read", st, want)
	}
	// 2, 2, 2 rows (1,002 items each); growing, 2 then 4.
	if n := f.count(t, `SELECT count(DISTINCT xmin::text) FROM presence_resync`); n != 3 {
		t.Errorf("the drain took its 6 rows of %d items in %d transactions, want 3 of 2 rows", growItems/2+1, n)
	}
}
