package intake

import (
	"context"
	"testing"
	"time"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
)

// TestACommittedRowWakesTheProcessors: the NOTIFY that wakes the
// processors is no longer sent in the rows' transaction (it serialized
// the committer's workers on PostgreSQL's notify lock), but it is still
// sent for every commit, and only once the row can be read.
func TestACommittedRowWakesTheProcessors(t *testing.T) {
	st, _ := storetest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := st.Listen(ctx, store.InboxNotifyChannel)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c := NewCommitter(st.Pool(), CommitterOptions{})
	go c.Run(ctx)
	row := Row{Kind: "change", Payload: []byte(`{"value":[{"subscriptionId":"sub-1"}]}`), Items: 1}
	if err := c.Commit(ctx, row); err != nil {
		t.Fatal(err)
	}
	n, err := l.Wait(ctx)
	if err != nil {
		t.Fatalf("no wake-up on %s after a commit: %v", store.InboxNotifyChannel, err)
	}
	if n.Payload != "1" {
		t.Errorf("woken for %q rows, want 1", n.Payload)
	}
	if backlog, err := st.InboxBacklog(ctx); err != nil || backlog != 1 {
		t.Errorf("the inbox holds %d rows (%v) when the processors are woken, want 1", backlog, err)
	}
}
