package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// shutdownGrace is how long requests in flight may take to finish once
// shutdown starts; orchestrators usually kill after 30 s, so we stay below.
const shutdownGrace = 20 * time.Second

// Serve runs h on ln until ctx is done, then shuts down gracefully: it stops
// accepting connections and lets requests in flight finish for up to 20 s.
// It returns nil after a clean shutdown, an error if the listener failed or
// connections had to be cut at the deadline.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// No WriteTimeout: the SSE stream (/api/v1/events) holds a response
		// open for hours and a server-wide write deadline would cut it.
		// Handlers that want one set it with http.ResponseController.
		WriteTimeout: 0,
		IdleTimeout:  120 * time.Second,
		ErrorLog:     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		// Requests get ctx's values but not its cancellation: on shutdown,
		// requests in flight should finish, not fail at once.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve http on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if err != nil {
		// Deadline passed with requests still running (long-lived streams
		// among them): cut them rather than leave them behind us.
		srv.Close()
		err = fmt.Errorf("shut down http server: %w", err)
	}
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("serve http on %s: %w", ln.Addr(), serveErr))
	}
	return err
}
