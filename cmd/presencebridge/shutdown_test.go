package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// Graph's POST that arrived just before SIGTERM is still answered, and
// answered truthfully: its items are in the inbox when Graph gets 202. The
// body follows the signal, so the handler needs the intake committer after
// the server has stopped accepting connections.
func TestAGraphNotificationInFlightAtSIGTERMIsCommittedAndAnswered202(t *testing.T) {
	dsn := freshDatabase(t, "drain_intake")
	p := startProcess(t, []string{"PB_ENV=development", testKey, "PB_DATABASE_URL=" + dsn}, "web")
	addr := hostOf(t, p.waitReady(t, 30*time.Second))
	pool := openPool(t, dsn)
	subscription(t, pool, "sub-1", "state-1")

	body := `{"value":[{"subscriptionId":"sub-1","clientState":"state-1","changeType":"updated",` +
		`"resource":"communications/presences('u1')","tenantId":"t1"}]}`
	conn, br := postInFlight(t, p, addr, "/graph/notifications", len(body), "Content-Type: application/json")

	p.cmd.Process.Signal(syscall.SIGTERM)
	waitRefused(t, addr)
	if _, err := conn.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the POST in flight at SIGTERM got no answer: %v; output:\n%s", err, p.log())
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("the POST in flight at SIGTERM got %s, want 202 Accepted; output:\n%s", resp.Status, p.log())
	}
	if code, _ := p.waitExit(t, 30*time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0; output:\n%s", code, p.log())
	}
	var rows, items int
	if err := pool.QueryRow(t.Context(), `SELECT count(*), coalesce(sum(items), 0) FROM inbox`).Scan(&rows, &items); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || items != 1 {
		t.Errorf("inbox holds %d rows with %d items, want the POST's 1 row with 1 item", rows, items)
	}
}

// An event stream open at SIGTERM ends at once with a retry hint, so its
// client reconnects (to another instance) instead of holding this one's
// shutdown for its whole grace period, and the exit is clean.
func TestAnOpenEventStreamEndsAtSIGTERMWithARetryHintAndTheProcessExits0AtOnce(t *testing.T) {
	dsn := freshDatabase(t, "drain_stream")
	p := startProcess(t, []string{"PB_ENV=development", testKey, "PB_DATABASE_URL=" + dsn}, "web")
	base := p.waitReady(t, 30*time.Second)
	key := apiKey(t, openPool(t, dsn), store.ScopeEventsRead)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("event stream: %s; output:\n%s", resp.Status, p.log())
	}
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "retry:") {
		t.Fatalf("the stream did not open with its retry field: %q", sc.Text())
	}
	var mu sync.Mutex
	var rest []string
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for sc.Scan() {
			mu.Lock()
			rest = append(rest, sc.Text())
			mu.Unlock()
		}
	}()

	p.cmd.Process.Signal(syscall.SIGTERM)
	// Well under the 20 s the server gives requests in flight.
	code, took := p.waitExit(t, 10*time.Second)
	if code != 0 {
		t.Errorf("exit code %d after SIGTERM with a stream open, want 0; output:\n%s", code, p.log())
	}
	<-ended
	mu.Lock()
	defer mu.Unlock()
	last := strings.Join(rest, "\n")
	if !strings.Contains(last, "retry: ") || !strings.Contains(last, ": server shutting down") {
		t.Errorf("the stream ended without a comment and a retry hint; it sent after opening:\n%s", last)
	}
	t.Logf("exited %v after SIGTERM with a stream open", took.Round(time.Millisecond))
}

// postInFlight starts a POST to path of a body of length bytes, with
// headers ("Name: value"), and returns once its handler is running,
// with the body not sent: Expect: 100-continue makes the server say when
// the handler starts reading it. The answer is read from the reader
// returned.
func postInFlight(t *testing.T, p *process, addr, path string, length int, headers ...string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n", path, addr, length)
	for _, h := range headers {
		fmt.Fprintf(conn, "%s\r\n", h)
	}
	fmt.Fprint(conn, "\r\n")
	br := bufio.NewReader(conn)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("no 100 Continue: %q, %v; output:\n%s", line, err, p.log())
	}
	br.ReadString('\n') // the blank line ending the interim response
	return conn, br
}

// waitExit waits up to within for the process to exit and returns its
// exit code and how long it took; past within, it kills the process and
// fails the test.
func (p *process) waitExit(t *testing.T, within time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode(), time.Since(start)
	case <-time.After(within):
		p.cmd.Process.Kill()
		<-p.exited
		t.Fatalf("still running %v after the signal; output:\n%s", within, p.log())
		return 0, 0
	}
}

// hostOf is the loopback address a process's base URL names.
func hostOf(t *testing.T, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", u.Port())
}

// waitRefused waits until addr refuses connections: the server has begun
// to shut down.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("%s still accepts connections 10 s after SIGTERM", addr)
		}
	}
}

// apiKey makes an active tenant and an API key of it with scopes.
func apiKey(t *testing.T, pool *pgxpool.Pool, scopes ...string) string {
	t.Helper()
	tenant := storetest.Tenant(t, pool, "Contoso")
	testkit.Exec(t, pool, `UPDATE tenants SET status = 'active' WHERE id = $1`, tenant)
	key, _, err := storetest.Open(t, pool).CreateAPIKey(t.Context(), tenant, store.NewAPIKey{Name: "platform", Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func openPool(t *testing.T, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// subscription stores a Graph subscription graphID whose notifications
// carry clientState, for a tenant and monitor of its own.
func subscription(t *testing.T, pool *pgxpool.Pool, graphID, clientState string) {
	t.Helper()
	tenant := storetest.Tenant(t, pool, "Contoso")
	m, err := storetest.Open(t, pool).AddMonitor(t.Context(), tenant, "monitor-1@contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Exec(t, pool, `INSERT INTO subscriptions (tenant_id, monitor_id, graph_id, resource, client_state_hash) VALUES ($1, $2, $3, 'r', $4)`,
		tenant, m.ID, graphID, store.ClientStateHash(clientState))
}
