package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"presencebridge/internal/testkit"
)

// newServer serves New(d) on a local port, with a fresh metrics registry
// unless d has one, and logs at Debug as JSON into the returned buffer.
func newServer(t *testing.T, d Deps) (*httptest.Server, *testkit.Logs) {
	t.Helper()
	logs := &testkit.Logs{}
	d.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if d.Metrics == nil {
		d.Metrics = prometheus.NewRegistry()
	}
	srv := httptest.NewServer(New(d))
	t.Cleanup(srv.Close)
	return srv, logs
}

// get fetches url with the given header name/value pairs and returns the
// response (body already read and closed) and its body.
func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp, string(body)
}
