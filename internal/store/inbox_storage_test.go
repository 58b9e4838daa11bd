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

// A POST's payload comes back as the receiver wrote it, byte for byte, to
// the processor, into the quarantine and out of it again: the inbox keeps
// text, which PostgreSQL neither parses on the way in nor prints back on
// the way out (migration 000063). As jsonb it was parsed at every insert
// and printed at every claim in jsonb's own layout (a space after each
// colon and comma), the work measured by BenchmarkInsertingAnEncryptedPOST
// and BenchmarkClaimingAnEncryptedPOST.
func TestAPOSTsPayloadComesBackAsTheReceiverWroteIt(t *testing.T) {
	ctx := context.Background()
	pool := testkit.DB(t)
	st := store.New(pool, ring(t, "k1", "k1"))
	payload := `{"value":[{"subscriptionId":"sub-1","resourceData":{"id":"u-1"},"n":1.50}],"validationTokens":["t"]}`
	if err := st.InsertInbox(ctx, []store.InboxRow{{Kind: "change", Payload: []byte(payload), Items: 1}}); err != nil {
		t.Fatal(err)
	}
	claimed := func(when string) int64 {
		t.Helper()
		var id int64
		if err := st.InTx(ctx, func(tx store.Tx) error {
			rows, err := tx.ClaimInbox(ctx, 10)
			if err != nil || len(rows) != 1 {
				t.Fatalf("%s: claimed %d rows: %v", when, len(rows), err)
			}
			if got := string(rows[0].Payload); got != payload {
				t.Errorf("%s: the processor got\n%s\nnot what the receiver wrote\n%s", when, got, payload)
			}
			id = rows[0].ID
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	id := claimed("first claim")
	if err := st.InTx(ctx, func(tx store.Tx) error { return tx.QuarantineInbox(ctx, id, "failed", "boom") }); err != nil {
		t.Fatal(err)
	}
	q, err := st.QuarantinedInbox(ctx, 10)
	if err != nil || len(q) != 1 {
		t.Fatalf("quarantined: %d rows: %v", len(q), err)
	}
	if got := string(q[0].Payload); got != payload {
		t.Errorf("the quarantine shows\n%s\nnot what the receiver wrote\n%s", got, payload)
	}
	if n, err := st.ReplayQuarantinedInbox(ctx, nil); err != nil || n != 1 {
		t.Fatalf("replayed %d: %v", n, err)
	}
	claimed("after the replay")
}
