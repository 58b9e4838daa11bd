package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"presencebridge/static"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newServer(t *testing.T, d Deps) (*httptest.Server, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	d.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if d.Metrics == nil {
		d.Metrics = prometheus.NewRegistry()
	}
	srv := httptest.NewServer(New(d))
	t.Cleanup(srv.Close)
	return srv, logs
}

func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	for _, production := range []bool{true, false} {
		srv, _ := newServer(t, Deps{Production: production})
		for _, path := range []string{"/", "/healthz", "/nowhere", static.Path("css/app.css")} {
			resp, _ := get(t, srv.URL+path)
			for h, want := range map[string]string{
				"Content-Security-Policy": "frame-ancestors 'none'",
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"X-Frame-Options":         "DENY",
			} {
				if got := resp.Header.Get(h); !strings.Contains(got, want) {
					t.Errorf("%s %s: %s = %q, want %q", map[bool]string{true: "prod", false: "dev"}[production], path, h, got, want)
				}
			}
			hsts := resp.Header.Get("Strict-Transport-Security")
			if production && !strings.Contains(hsts, "max-age=63072000") {
				t.Errorf("production %s: no HSTS", path)
			}
			if !production && hsts != "" {
				t.Errorf("development %s: HSTS %q would pin https on localhost", path, hsts)
			}
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	var readyErr error
	srv, logs := newServer(t, Deps{Ready: func(context.Context) error { return readyErr }})
	if resp, body := get(t, srv.URL+"/healthz"); resp.StatusCode != 200 || body != "ok\n" {
		t.Fatalf("/healthz = %d %q", resp.StatusCode, body)
	}
	if resp, _ := get(t, srv.URL+"/readyz"); resp.StatusCode != 200 {
		t.Fatalf("/readyz when ready = %d", resp.StatusCode)
	}
	readyErr = errors.New("failed to connect to user=pb password=hunter2 host=db")
	resp, body := get(t, srv.URL+"/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz when not ready = %d", resp.StatusCode)
	}
	if strings.Contains(body, "hunter2") || strings.Contains(body, "host=db") {
		t.Fatalf("/readyz body reveals the error: %q", body)
	}
	if !strings.Contains(logs.String(), "not ready") {
		t.Fatal("the readiness failure was not logged")
	}
}

func TestMetricsCountRequestsByRoute(t *testing.T) {
	srv, _ := newServer(t, Deps{Mount: func(r chi.Router) {
		r.Get("/tenants/{id}", func(w http.ResponseWriter, r *http.Request) {})
	}})
	get(t, srv.URL+"/tenants/123")
	get(t, srv.URL+"/tenants/456")
	_, body := get(t, srv.URL+"/metrics")
	want := `presencebridge_http_requests_total{code="200",method="GET",route="/tenants/{id}"} 2`
	if !strings.Contains(body, want) {
		t.Fatalf("/metrics lacks %s", want)
	}
	if strings.Contains(body, "/tenants/123") {
		t.Fatal("metrics carry a raw path: unbounded cardinality")
	}
}

func TestStaticAssetsAreCachedOnlyAtTheirCurrentVersion(t *testing.T) {
	srv, _ := newServer(t, Deps{})
	versioned := static.Path("css/app.css")
	if !strings.Contains(versioned, "?v=") {
		t.Fatalf("Path gave %q, want a content hash", versioned)
	}
	resp, body := get(t, srv.URL+versioned)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || !strings.Contains(body, ":root") {
		t.Fatalf("stylesheet: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
		t.Fatalf("versioned asset Cache-Control = %q", cc)
	}
	resp, _ = get(t, srv.URL+"/static/css/app.css?v=stale")
	if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Fatalf("stale version Cache-Control = %q, want no-cache", cc)
	}
	for _, path := range []string{"/static/css/missing.css", "/static/css/", "/static/../go.mod"} {
		if resp, _ := get(t, srv.URL+path); resp.StatusCode != 404 {
			t.Errorf("%s = %d, want 404", path, resp.StatusCode)
		}
	}
}

func TestPagesRenderWithTheLayout(t *testing.T) {
	srv, _ := newServer(t, Deps{Version: "v9.9.9"})
	resp, body := get(t, srv.URL+"/", "Accept", "text/html")
	if resp.StatusCode != 200 || !strings.Contains(body, "Presence Bridge v9.9.9") || !strings.Contains(body, static.Path("css/app.css")) {
		t.Fatalf("home: %d\n%s", resp.StatusCode, body)
	}
	resp, body = get(t, srv.URL+"/no/such/page", "Accept", "text/html")
	if resp.StatusCode != 404 || !strings.Contains(body, "Page not found") {
		t.Fatalf("HTML 404: %d\n%s", resp.StatusCode, body)
	}
	resp, body = get(t, srv.URL+"/api/v1/nothing")
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(body, `"status":404`) {
		t.Fatalf("API 404: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

func TestPanicIsLoggedAnswered500AndServingContinues(t *testing.T) {
	srv, logs := newServer(t, Deps{Mount: func(r chi.Router) {
		r.Get("/boom", func(http.ResponseWriter, *http.Request) { panic("secret internal detail") })
		r.Get("/api/v1/boom", func(http.ResponseWriter, *http.Request) { panic("secret internal detail") })
	}})
	resp, body := get(t, srv.URL+"/boom")
	if resp.StatusCode != 500 || strings.Contains(body, "secret internal detail") {
		t.Fatalf("panic: %d %q", resp.StatusCode, body)
	}
	resp, _ = get(t, srv.URL+"/api/v1/boom")
	if resp.StatusCode != 500 || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("API panic: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if l := logs.String(); !strings.Contains(l, "panic serving request") || !strings.Contains(l, "secret internal detail") || !strings.Contains(l, "goroutine") {
		t.Fatalf("panic not logged with its stack:\n%s", l)
	}
	if resp, _ := get(t, srv.URL+"/healthz"); resp.StatusCode != 200 {
		t.Fatal("server stopped serving after a panic")
	}
}

func TestRequestLogNeverHasTheQueryString(t *testing.T) {
	srv, logs := newServer(t, Deps{})
	get(t, srv.URL+"/onboarding/callback?code=SECRETCODE&state=SECRETSTATE")
	l := logs.String()
	if !strings.Contains(l, `"path":"/onboarding/callback"`) {
		t.Fatalf("request not logged:\n%s", l)
	}
	if strings.Contains(l, "SECRETCODE") || strings.Contains(l, "SECRETSTATE") {
		t.Fatalf("query string logged:\n%s", l)
	}
}

func TestServeShutsDownGracefully(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Write([]byte("finished"))
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, slog.New(slog.DiscardHandler)) }()

	inflight := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			inflight <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		inflight <- string(b)
	}()
	time.Sleep(100 * time.Millisecond) // let the request arrive
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v while a request was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if got := <-inflight; got != "finished" {
		t.Fatalf("in-flight request got %q, want it completed", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after shutdown: %v", err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Fatal("still accepting connections after shutdown")
	}
}
