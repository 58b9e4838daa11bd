package web

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serve runs h on a Server on a loopback port; Serve's result arrives on
// the channel.
func serve(t *testing.T, h http.Handler) (*Server, string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(ln, h, slog.New(slog.DiscardHandler))
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	return s, "http://" + ln.Addr().String(), done
}

// fetchBody requests url in the background and reports the body, or the error.
func fetchBody(url string) <-chan string {
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			got <- string(b) + " error: " + err.Error()
			return
		}
		got <- string(b)
	}()
	return got
}

func TestShutdownFinishesRequestsInFlightThenServeReturnsNil(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	s, base, done := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		w.Write([]byte("finished"))
	}))
	inflight := fetchBody(base + "/slow")
	<-arrived
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v while a request was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if got := <-inflight; got != "finished" {
		t.Fatalf("in-flight request got %q, want it completed", got)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown after the requests finished: %v, want nil", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after a clean shutdown: %v, want nil", err)
	}
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second); err == nil {
		c.Close()
		t.Fatal("still accepting connections after shutdown")
	}
}

// A long-lived response watches Stopping and ends, so the drain need not
// wait for it.
func TestStoppingIsClosedWhenShutdownBeginsSoLongResponsesEnd(t *testing.T) {
	arrived := make(chan struct{})
	s, base, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("open "))
		w.(http.Flusher).Flush()
		close(arrived)
		select {
		case <-Stopping(r.Context()):
			w.Write([]byte("ended at shutdown"))
		case <-r.Context().Done():
		}
	}))
	stream := fetchBody(base + "/stream")
	<-arrived
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with a stream open: %v, want nil", err)
	}
	if got := <-stream; got != "open ended at shutdown" {
		t.Fatalf("the stream got %q, want it ended at shutdown", got)
	}
}

// At the caller's deadline the requests left are cut, and the error says
// which they were.
func TestShutdownCutsWhatIsStillRunningAtTheDeadlineAndNamesIt(t *testing.T) {
	arrived := make(chan struct{})
	s, base, done := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done() // ignores shutdown; ends only when cut
	}))
	stuck := fetchBody(base + "/graph/notifications")
	<-arrived
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := s.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "GET /graph/notifications") {
		t.Fatalf("Shutdown past its deadline: %v, want an error naming GET /graph/notifications", err)
	}
	if got := <-stuck; !strings.Contains(got, "error") {
		t.Errorf("the request still running at the deadline got %q, want its connection cut", got)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve after the shutdown: %v, want nil", err)
	}
}

func TestServeReturnsTheListenerError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if err := NewServer(ln, http.NotFoundHandler(), slog.New(slog.DiscardHandler)).Serve(); err == nil {
		t.Fatal("Serve on a closed listener returned nil")
	}
}
