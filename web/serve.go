package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Server serves the product's handler on one listener and shuts down as a
// rolling deploy needs: it stops accepting, asks long-lived responses to
// end, lets the other requests finish, and cuts what is left at the
// caller's deadline, saying what that was.
type Server struct {
	srv      *http.Server
	ln       net.Listener
	stopping chan struct{} // closed when Shutdown begins

	mu       sync.Mutex
	inFlight map[*http.Request]struct{}
}

type stoppingKey struct{}

// NewServer returns a Server for h on ln; Serve runs it.
func NewServer(ln net.Listener, h http.Handler, logger *slog.Logger) *Server {
	s := &Server{ln: ln, stopping: make(chan struct{}), inFlight: map[*http.Request]struct{}{}}
	s.srv = &http.Server{
		Handler:           s.track(h),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// No WriteTimeout: the SSE stream (/api/v1/events) holds a response
		// open for hours and a server-wide write deadline would cut it.
		// Handlers that want one set it with http.ResponseController.
		WriteTimeout: 0,
		IdleTimeout:  120 * time.Second,
		ErrorLog:     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		// Requests are not cancelled when shutdown starts: those in flight
		// should finish, not fail at once. Long-lived ones watch Stopping.
		BaseContext: func(net.Listener) context.Context {
			return context.WithValue(context.Background(), stoppingKey{}, (<-chan struct{})(s.stopping))
		},
	}
	s.srv.RegisterOnShutdown(func() { close(s.stopping) })
	return s
}

// Stopping is closed when the server serving ctx's request begins to shut
// down. A response that would otherwise stay open (the event stream) ends
// then, so that the drain does not wait for it and its client reconnects
// to an instance that stays. Nil, never closed, outside a Server.
func Stopping(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(stoppingKey{}).(<-chan struct{})
	return ch
}

// Serve accepts connections until Shutdown. It returns nil after a
// shutdown, the listener's error otherwise.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http on %s: %w", s.ln.Addr(), err)
	}
	return nil
}

// Shutdown stops accepting connections, closes Stopping, and waits for the
// requests in flight until ctx ends. Those still running then are cut, and
// the error names them.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err == nil {
		return nil
	}
	if ctx.Err() == nil { // all finished, but the listener would not close
		return fmt.Errorf("shut down http on %s: %w", s.ln.Addr(), err)
	}
	running := s.running()
	s.srv.Close()
	if len(running) == 0 { // a client that had not sent a whole request
		return errors.New("http: connections without a complete request still open, cut")
	}
	return fmt.Errorf("http: %s still running, cut", strings.Join(running, ", "))
}

// track keeps the requests in flight, so that a shutdown cut short can say
// which did not finish.
func (s *Server) track(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.inFlight[r] = struct{}{}
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			delete(s.inFlight, r)
			s.mu.Unlock()
		}()
		h.ServeHTTP(w, r)
	})
}

// running lists the requests in flight as "METHOD path", the first few.
func (s *Server) running() []string {
	const shown = 5
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for r := range s.inFlight {
		out = append(out, r.Method+" "+r.URL.Path)
	}
	slices.Sort(out)
	if len(out) > shown {
		out = append(out[:shown], fmt.Sprintf("and %d more", len(out)-shown))
	}
	return out
}
