package store_test

import (
	"context"
	"testing"

	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

func TestTableSizesListEveryTableOfTheSchemaWithItsBytes(t *testing.T) {
	ctx := context.Background()
	st := store.New(testkit.DB(t), nil)
	sizes, err := st.TableSizes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int64{}
	for i, s := range sizes {
		seen[s.Table] = s.Bytes
		if i > 0 && s.Bytes > sizes[i-1].Bytes {
			t.Errorf("%s (%d bytes) after %s (%d): not largest first", s.Table, s.Bytes, sizes[i-1].Table, sizes[i-1].Bytes)
		}
	}
	for _, table := range []string{"tenants", "presence", "presence_events", "deliveries", "inbox", "subscriptions"} {
		if b, ok := seen[table]; !ok || b <= 0 {
			t.Errorf("table %s: listed %v with %d bytes (an empty table still has its first pages and indexes)", table, ok, b)
		}
	}
}
