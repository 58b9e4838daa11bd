package graphhook

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// withItems is a collection of n genuine items of sub-1, padded with
// whitespace (still valid JSON) to at least size bytes.
func withItems(n, size int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = item("sub-1", "state-1", "u1")
	}
	body := `{"value":[` + strings.Join(items, ",") + `]}`
	if pad := size - len(body); pad > 0 {
		body = body[:len(body)-1] + strings.Repeat(" ", pad) + "}"
	}
	return body
}

func TestAPostOverEightMiBIsRefused413AndNothingIsCommitted(t *testing.T) {
	// Size, not time: parsing 8 MiB takes over a second with -race alone.
	f := newFixture(t, func(d *Deps) { d.Deadline = time.Minute })
	if code, b := f.post(t, "/graph/notifications", withItems(1, 8<<20+1)); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a body of 8 MiB + 1 byte: %d %s, want 413", code, b)
	}
	// Sent chunked, its length undeclared: refused once the limit is read.
	resp, err := http.Post(f.srv.URL+"/graph/notifications", "application/json", io.MultiReader(strings.NewReader(withItems(1, 8<<20+1))))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("a chunked body of 8 MiB + 1 byte: %d, want 413", resp.StatusCode)
	}
	if rows, _, _ := f.inbox(t); rows != 0 {
		t.Fatalf("an oversized POST left %d inbox rows", rows)
	}
	if code, b := f.post(t, "/graph/notifications", withItems(1, 8<<20)); code != http.StatusAccepted {
		t.Fatalf("a body of exactly 8 MiB: %d %s, want 202", code, b)
	}
}

func TestAPostOfMoreThan2000ItemsIsRefused400AndNothingIsCommitted(t *testing.T) {
	f := newFixture(t)
	if code, b := f.post(t, "/graph/notifications", withItems(2001, 0)); code != http.StatusBadRequest {
		t.Fatalf("2,001 items: %d %s, want 400", code, b)
	}
	if rows, _, _ := f.inbox(t); rows != 0 {
		t.Fatalf("a POST of too many items left %d inbox rows", rows)
	}
	if code, b := f.post(t, "/graph/notifications", withItems(2000, 0)); code != http.StatusAccepted {
		t.Fatalf("2,000 items: %d %s, want 202", code, b)
	}
	if _, items, _ := f.inbox(t); items != 2000 {
		t.Fatalf("inbox holds %d items, want the 2,000 of the POST within the limit", items)
	}
}
