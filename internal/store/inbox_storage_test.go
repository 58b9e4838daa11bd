package store_test

import (
	"context"
	"strings"
	"testing"

	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

// A POST's payload is stored as it came, never compressed: it is mostly
// ciphertext, and PostgreSQL's attempt to compress it was half of each
// insert's time for nothing (migration 000058). A payload that would
// compress (repeated text, which no POST of Graph's holds) shows it.
func TestTheInboxStoresAPOSTsPayloadUncompressed(t *testing.T) {
	ctx := context.Background()
	pool := testkit.DB(t)
	st := store.New(pool, ring(t, "k1", "k1"))
	payload := `{"value":[{"encryptedContent":{"data":"` + strings.Repeat("A", 20000) + `"}}],"validationTokens":["t"]}`
	if err := st.InsertInbox(ctx, []store.InboxRow{{Kind: "change", Payload: []byte(payload), Items: 1}}); err != nil {
		t.Fatal(err)
	}
	var compression *string
	var size int
	if err := pool.QueryRow(ctx, `SELECT pg_column_compression(payload), pg_column_size(payload) FROM inbox`).
		Scan(&compression, &size); err != nil {
		t.Fatal(err)
	}
	if compression != nil {
		t.Errorf("the payload is stored compressed with %s: %d bytes of %d", *compression, size, len(payload))
	} else if size < 20000 {
		t.Errorf("the payload takes %d bytes of its %d", size, len(payload))
	}
}
