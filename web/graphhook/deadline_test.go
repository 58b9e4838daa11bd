package graphhook

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// graphBudget is how long Graph waits for an answer before it counts the
// POST as failed (docs/graph.md#delivery-and-acknowledgement).
const graphBudget = 3 * time.Second

// Whatever holds the database up, Graph has its answer within its 3
// seconds: a 503, which it retries, rather than none.
func TestAPostWhoseLookupCannotFinishIsAnswered503WithinGraphsBudget(t *testing.T) {
	f := newFixture(t)
	tx, err := f.pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(context.Background(), `LOCK TABLE subscriptions IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	start := time.Now()
	resp, err := client.Post(f.srv.URL+"/graph/notifications", "application/json", strings.NewReader(`{"value":[`+item("sub-1", "state-1", "u1")+`]}`))
	if err != nil {
		t.Fatalf("no answer after %v: %v", time.Since(start), err)
	}
	resp.Body.Close()
	if took := time.Since(start); resp.StatusCode != http.StatusServiceUnavailable || took > graphBudget {
		t.Fatalf("answered %d after %v; want 503 within %v", resp.StatusCode, took, graphBudget)
	}
}

// A body that trickles in (or never comes) does not hold its request past
// Graph's budget.
func TestABodyThatArrivesTooSlowlyIsRefusedWithinGraphsBudget(t *testing.T) {
	f := newFixture(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := conn.Write([]byte("POST /graph/notifications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"value\":[")); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer after %v: %v", time.Since(start), err)
	}
	resp.Body.Close()
	if took := time.Since(start); resp.StatusCode != http.StatusRequestTimeout || took > graphBudget {
		t.Fatalf("answered %d after %v; want 408 within %v", resp.StatusCode, took, graphBudget)
	}
}

// stall opens a POST whose body never comes: it holds its place among the
// requests served until the deadline.
func stall(t *testing.T, f *fixture) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.Write([]byte("POST /graph/notifications HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")); err != nil {
		t.Fatal(err)
	}
	return conn
}

// Requests beyond the limit are not queued: they are answered 503 with a
// Retry-After at once, and Graph comes back.
func TestPostsBeyondTheConcurrencyLimitAreAnswered503AtOnce(t *testing.T) {
	f := newFixture(t, func(d *Deps) { d.MaxRequests = 2 })
	stalled := []net.Conn{stall(t, f), stall(t, f)}
	time.Sleep(100 * time.Millisecond) // both are being served
	start := time.Now()
	resp, err := http.Post(f.srv.URL+"/graph/notifications", "application/json", strings.NewReader(`{"value":[`+item("sub-1", "state-1", "u1")+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if took := time.Since(start); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || took > Deadline/2 {
		t.Fatalf("a third POST: %d (Retry-After %q) after %v; want 503 with Retry-After at once", resp.StatusCode, resp.Header.Get("Retry-After"), took)
	}
	if rows, _, _ := f.inbox(t); rows != 0 {
		t.Fatalf("a POST answered 503 left %d inbox rows", rows)
	}
	// Once the stalled POSTs are given up on, there is room again.
	for _, c := range stalled {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("a stalled POST: %v %v, want 408", resp, err)
		}
	}
	if code, b := f.post(t, "/graph/notifications", `{"value":[`+item("sub-1", "state-1", "u1")+`]}`); code != http.StatusAccepted {
		t.Fatalf("a POST after the stalled ones ended: %d %s", code, b)
	}
}
