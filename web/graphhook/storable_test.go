package graphhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/intake"
	"presencebridge/internal/notification"
)

// countingCommitter counts the rows handed to the group commit.
type countingCommitter struct {
	next    Committer
	entered atomic.Int64
}

func (c *countingCommitter) Commit(ctx context.Context, row intake.Row) error {
	c.entered.Add(1)
	return c.next.Commit(ctx, row)
}

// TestAnUnstorableItemIsRefusedAloneNotWithItsGroupCommit: bytes that
// are not UTF-8 (which PostgreSQL's text refuses), \u0000, a lone
// surrogate and a number past a double's range (which jsonb refused while
// the inbox used it) are all read by encoding/json (or skipped, under a
// key no field has). Stored as sent into jsonb, such an item failed the
// multi-row insert of its whole group commit, so every POST of that batch
// — other tenants' genuine ones — was answered 503 (and its own POST's
// genuine items with it, at every retry of Graph's); into text, bytes not
// UTF-8 still would. storable.go says why each is still refused. The door
// refuses the item alone; the genuine POSTs
// committed at once with it, and its POST's genuine item, are 202 and
// stored.
func TestAnUnstorableItemIsRefusedAloneNotWithItsGroupCommit(t *testing.T) {
	f := newFixture(t, func(d *Deps) { d.MaxRequests = 100 })
	// A committer of one worker on one connection of its own, which the
	// test holds so that the POSTs queue and are written together.
	cfg, err := pgxpool.ParseConfig(f.pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	commitPool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(commitPool.Close)
	c := intake.NewCommitter(commitPool, intake.CommitterOptions{Workers: 1})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go c.Run(ctx)
	counted := &countingCommitter{next: c}
	f.h.d.Committer = counted
	genuine := func(user string) string { return item("sub-1", "state-1", user) }
	unstorable := map[string]string{
		"NUL in a value":                 strings.Replace(genuine("bad"), `"tenantId":"t"`, `"tenantId":"t\u0000"`, 1),
		"NUL in a key":                   strings.Replace(genuine("bad"), `"changeType"`, `"change\u0000Type"`, 1),
		"a lone high surrogate":          strings.Replace(genuine("bad"), `"tenantId":"t"`, `"tenantId":"t\ud800"`, 1),
		"a lone low surrogate":           strings.Replace(genuine("bad"), `"tenantId":"t"`, `"tenantId":"\udc00t"`, 1),
		"bytes not UTF-8":                strings.Replace(genuine("bad"), `"tenantId":"t"`, "\"tenantId\":\"t\xff\"", 1),
		"a number past a double's range": strings.Replace(genuine("bad"), `"tenantId":"t"`, `"tenantId":"t","n":1e999999`, 1),
	}
	n := 0
	for name, bad := range unstorable {
		n++
		marker := fmt.Sprint("with-bad-", n)
		t.Run(name, func(t *testing.T) {
			rows, _, _ := f.inbox(t)
			conn, err := commitPool.Acquire(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var held sync.Once
			release := func() { held.Do(conn.Release) }
			defer release()
			const genuinePosts = 8
			before := counted.entered.Load()
			codes := make([]int, genuinePosts+1)
			var wg sync.WaitGroup
			for i := range codes {
				wg.Go(func() {
					body := `{"value":[` + genuine("u"+name) + `]}`
					if i == genuinePosts {
						body = `{"value":[` + bad + `,` + genuine(marker) + `]}`
					}
					code, _, err := post(f.srv.URL+"/graph/notifications", body)
					if err != nil {
						t.Error(err)
					}
					codes[i] = code
				})
			}
			for deadline := time.Now().Add(10 * time.Second); counted.entered.Load()-before < int64(len(codes)); time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					break // some never reached the commit: the checks below say which
				}
			}
			release()
			wg.Wait()
			for i, code := range codes {
				if code != http.StatusAccepted {
					t.Errorf("POST %d of %d (the last holds the bad item): %d, want 202", i+1, len(codes), code)
				}
			}
			after, items, _ := f.inbox(t)
			if after-rows != len(codes) {
				t.Errorf("inbox: %d rows added, want %d (one per POST)", after-rows, len(codes))
			}
			var stored int
			f.pool.QueryRow(context.Background(), `SELECT count(*) FROM inbox WHERE payload::text LIKE '%users/' || $1 || '/%'`, marker).Scan(&stored)
			var badStored int
			f.pool.QueryRow(context.Background(), `SELECT count(*) FROM inbox WHERE payload::text LIKE '%users/bad/%'`).Scan(&badStored)
			if stored != 1 || badStored != 0 {
				t.Errorf("the bad POST's genuine item stored %d times (want 1), its bad item %d (want 0); %d items in all", stored, badStored, items)
			}
		})
	}
}

// TestItemsWithKeysDifferingOnlyInCaseAreRefused: encoding/json matches
// keys case-insensitively (Unicode folding: ſ is s, K is k) and the last
// wins in the text's order; jsonb, which the inbox used before migration
// 000063, kept both keys and wrote them back in its own order (shorter
// first, then by bytes), so the processor, reading the stored row, took
// "subscriptionId" where the door had checked "SubscriptionId" — another
// subscription than the one whose clientState passed. JSON readers still
// disagree on such an item, and Graph sends none: one whose keys differ
// only in case, at any depth, is refused at the door, before it is stored.
func TestItemsWithKeysDifferingOnlyInCaseAreRefused(t *testing.T) {
	f := newFixture(t)
	base := item("sub-1", "state-1", "u1")
	for name, body := range map[string]string{
		"subscriptionId twice": strings.Replace(base, `{"subscriptionId":"sub-1"`, `{"subscriptionId":"sub-other","SubscriptionId":"sub-1"`, 1),
		"folded letters":       strings.Replace(base, `{"subscriptionId":"sub-1"`, `{"subscriptionId":"sub-other","ſubscriptionId":"sub-1"`, 1),
		"escaped":              strings.Replace(base, `{"subscriptionId":"sub-1"`, `{"subscriptionId":"sub-other","\u0053ubscriptionId":"sub-1"`, 1),
		"nested":               strings.Replace(base, `"id":"u1"}`, `"id":"u1","ID":"u2"}`, 1),
	} {
		var n notification.Notification
		if err := json.Unmarshal([]byte(body), &n); err != nil || n.SubscriptionID != "sub-1" {
			t.Fatalf("%s: the door reads subscription %q (%v); the case is built wrong", name, n.SubscriptionID, err)
		}
		rows, _, _ := f.inbox(t)
		if code, b := f.post(t, "/graph/notifications", `{"value":[`+body+`,`+item("sub-1", "state-1", "u9")+`]}`); code != http.StatusAccepted {
			t.Fatalf("%s: POST %d %s", name, code, b)
		}
		var payload string
		f.pool.QueryRow(context.Background(), `SELECT payload::text FROM inbox ORDER BY id DESC LIMIT 1`).Scan(&payload)
		after, _, _ := f.inbox(t)
		if after != rows+1 || strings.Contains(payload, "sub-other") || strings.Contains(payload, `"u2"`) || !strings.Contains(payload, "u9") {
			t.Errorf("%s: %d rows added, the last %s; want one, of the genuine item alone", name, after-rows, payload)
		}
	}
	// Exact duplicates are read alike (the last wins in both), and
	// differing keys are not duplicates: those pass.
	for name, body := range map[string]string{
		"a key twice":    strings.Replace(base, `{"subscriptionId":"sub-1"`, `{"subscriptionId":"sub-other","subscriptionId":"sub-1"`, 1),
		"an unknown key": strings.Replace(base, `{"subscriptionId":"sub-1"`, `{"subscriptionId":"sub-1","subscriptionIds":"x"`, 1),
	} {
		rows, _, _ := f.inbox(t)
		if code, b := f.post(t, "/graph/notifications", `{"value":[`+body+`]}`); code != http.StatusAccepted {
			t.Fatalf("%s: POST %d %s", name, code, b)
		}
		if after, _, _ := f.inbox(t); after != rows+1 {
			t.Errorf("%s: refused", name)
		}
	}
}
