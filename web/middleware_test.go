package web

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"presencebridge/internal/testkit"
	"presencebridge/static"
)

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	want := map[string]string{
		"Content-Security-Policy":    "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'; img-src 'self' data:",
		"X-Content-Type-Options":     "nosniff",
		"Referrer-Policy":            "no-referrer",
		"X-Frame-Options":            "DENY",
		"Cross-Origin-Opener-Policy": "same-origin",
	}
	for _, production := range []bool{true, false} {
		srv, _ := newServer(t, Deps{Production: production, Mount: func(r chi.Router) {
			r.Get("/boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
		}})
		for _, path := range []string{"/", "/healthz", "/readyz", "/metrics", "/nowhere", "/boom", static.Path("css/app.css")} {
			resp, _ := get(t, srv.URL+path)
			for h, v := range want {
				if got := resp.Header.Get(h); got != v {
					t.Errorf("production=%v %s: %s = %q, want %q", production, path, h, got, v)
				}
			}
			if resp.Header.Get("Permissions-Policy") == "" {
				t.Errorf("production=%v %s: no Permissions-Policy", production, path)
			}
			hsts := resp.Header.Get("Strict-Transport-Security")
			if production && hsts != "max-age=63072000; includeSubDomains" {
				t.Errorf("production %s: HSTS = %q", path, hsts)
			}
			if !production && hsts != "" {
				t.Errorf("development %s: HSTS %q would pin https on localhost", path, hsts)
			}
		}
	}
}

// logLines decodes the JSON log lines whose msg is msg.
func logLines(t *testing.T, logs *testkit.Logs, msg string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, sc.Text())
		}
		if line["msg"] == msg {
			lines = append(lines, line)
		}
	}
	return lines
}

func TestRequestLogIsOneLineWithoutTheQueryString(t *testing.T) {
	srv, logs := newServer(t, Deps{})
	resp, _ := get(t, srv.URL+"/onboarding/callback?code=SECRETCODE&state=SECRETSTATE")
	if l := logs.String(); strings.Contains(l, "SECRETCODE") || strings.Contains(l, "SECRETSTATE") {
		t.Fatalf("query string logged:\n%s", l)
	}
	lines := logLines(t, logs, "http request")
	if len(lines) != 1 {
		t.Fatalf("%d request log lines, want 1:\n%s", len(lines), logs)
	}
	l := lines[0]
	if l["level"] != "INFO" || l["method"] != "GET" || l["path"] != "/onboarding/callback" ||
		l["status"] != float64(404) || l["bytes"].(float64) <= 0 || l["duration"] == nil ||
		l["request_id"] == "" || l["request_id"] != resp.Header.Get("X-Request-Id") {
		t.Fatalf("request log line = %v (response X-Request-Id %q)", l, resp.Header.Get("X-Request-Id"))
	}
}

func TestProbesMetricsAndStaticAssetsAreLoggedAtDebug(t *testing.T) {
	srv, logs := newServer(t, Deps{})
	for _, p := range []string{"/healthz", "/readyz", "/metrics", static.Prefix + "css/app.css"} {
		get(t, srv.URL+p)
	}
	lines := logLines(t, logs, "http request")
	// A line is written after its response: the last may lag the client.
	for deadline := time.Now().Add(2 * time.Second); len(lines) < 4 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		lines = logLines(t, logs, "http request")
	}
	if len(lines) != 4 {
		t.Fatalf("%d request log lines, want 4", len(lines))
	}
	for _, l := range lines {
		if l["level"] != "DEBUG" {
			t.Errorf("%s logged at %s, want DEBUG", l["path"], l["level"])
		}
	}
}

func TestRequestIDFromTheClientIsKeptOnlyWhenPlain(t *testing.T) {
	srv, logs := newServer(t, Deps{})
	resp, _ := get(t, srv.URL+"/healthz", "X-Request-Id", "lb-7f3a-42")
	if got := resp.Header.Get("X-Request-Id"); got != "lb-7f3a-42" {
		t.Errorf("plain inbound id: response X-Request-Id = %q, want it kept", got)
	}
	forged := `x" level=ERROR msg="forged` + strings.Repeat("A", 200)
	resp, _ = get(t, srv.URL+"/healthz", "X-Request-Id", forged)
	if got := resp.Header.Get("X-Request-Id"); got == "" || got == forged {
		t.Errorf("forged inbound id: response X-Request-Id = %q, want a generated one", got)
	}
	if strings.Contains(logs.String(), "forged") {
		t.Errorf("forged request id reached the log:\n%s", logs)
	}
}

func TestPanicIsLoggedAnswered500AndServingContinues(t *testing.T) {
	srv, logs := newServer(t, Deps{Mount: func(r chi.Router) {
		r.Get("/boom", func(w http.ResponseWriter, _ *http.Request) {
			http.SetCookie(w, &http.Cookie{Name: "half", Value: "done"})
			panic("secret internal detail")
		})
		r.Get("/api/v1/boom", func(http.ResponseWriter, *http.Request) { panic("secret internal detail") })
	}})
	resp, body := get(t, srv.URL+"/boom")
	if resp.StatusCode != 500 || strings.Contains(body, "secret") || resp.Header.Get("Set-Cookie") != "" {
		t.Fatalf("page panic: %d %q Set-Cookie %q; want 500, no panic text, no cookie",
			resp.StatusCode, body, resp.Header.Get("Set-Cookie"))
	}
	resp, body = get(t, srv.URL+"/api/v1/boom")
	var p struct {
		Type, Title string
		Status      int
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil || resp.StatusCode != 500 ||
		resp.Header.Get("Content-Type") != "application/problem+json" || p.Status != 500 || p.Title == "" || p.Type == "" {
		t.Fatalf("API panic: %d %s %s (%v)", resp.StatusCode, resp.Header.Get("Content-Type"), body, err)
	}
	if strings.Contains(body, "secret") {
		t.Fatalf("API panic body reveals the panic: %s", body)
	}
	panics := logLines(t, logs, "panic serving request")
	if len(panics) != 2 || panics[0]["level"] != "ERROR" || panics[0]["panic"] != "secret internal detail" ||
		!strings.Contains(panics[0]["stack"].(string), "goroutine") {
		t.Fatalf("panics not logged with their stacks:\n%s", logs)
	}
	if resp, _ := get(t, srv.URL+"/healthz"); resp.StatusCode != 200 {
		t.Fatal("server stopped serving after a panic")
	}
}

// Once a handler has started its response, a 500 can no longer be sent:
// the connection must be cut so the client sees an error, not a short page.
func TestPanicAfterTheResponseStartedAbortsIt(t *testing.T) {
	srv, logs := newServer(t, Deps{Mount: func(r chi.Router) {
		r.Get("/half", func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte(strings.Repeat("partial ", 1000)))
			w.(http.Flusher).Flush()
			panic("midway")
		})
	}})
	resp, err := http.Get(srv.URL + "/half")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("a response cut by a panic read as complete")
	}
	if len(logLines(t, logs, "panic serving request")) != 1 {
		t.Fatalf("panic not logged:\n%s", logs)
	}
}

// http.ErrAbortHandler is net/http's way to abort a response quietly; the
// recovery middleware must hand it back rather than answer 500 and log it.
func TestErrAbortHandlerIsNotRecovered(t *testing.T) {
	srv, logs := newServer(t, Deps{Mount: func(r chi.Router) {
		r.Get("/abort", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	}})
	resp, err := http.Get(srv.URL + "/abort")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("aborted handler answered %d, want the connection cut", resp.StatusCode)
	}
	if len(logLines(t, logs, "panic serving request")) != 0 {
		t.Fatalf("an abort was logged as a panic:\n%s", logs)
	}
	lines := logLines(t, logs, "http request")
	if len(lines) != 1 || lines[0]["aborted"] != true {
		t.Fatalf("aborted request log = %v, want one line marked aborted", lines)
	}
}
