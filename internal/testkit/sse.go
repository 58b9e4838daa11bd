package testkit

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// SSEEvent is one Server-Sent Event as a client sees it.
type SSEEvent struct {
	ID   string
	Data []byte
}

// ReadSSE connects to an event stream at url with a bearer key (resuming
// after lastID when given), starts during (if any) once connected, and
// returns the first n events; fewer within the timeout fail the test.
func ReadSSE(t testing.TB, url, key, lastID string, n int, timeout time.Duration, during func()) []SSEEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if during != nil {
		go during()
	}
	var out []SSEEvent
	var cur SSEEvent
	sc := bufio.NewScanner(resp.Body)
	for len(out) < n && sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			cur.ID = line[4:]
		case strings.HasPrefix(line, "data: "):
			cur.Data = []byte(line[6:])
		case line == "" && cur.Data != nil:
			out = append(out, cur)
			cur = SSEEvent{}
		}
	}
	if len(out) < n {
		t.Fatalf("stream gave %d events, want %d", len(out), n)
	}
	return out
}
