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
