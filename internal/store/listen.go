package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Listener is one connection of the pool held for LISTEN: PostgreSQL
// delivers a channel's notifications to the sessions listening on it, so
// the connection stays out of the pool until Close.
type Listener struct {
	conn *pgxpool.Conn
}

// Listen takes a connection from the pool and LISTENs on channels.
func (s *Store) Listen(ctx context.Context, channels ...string) (*Listener, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	stmts := make([]string, len(channels))
	for i, c := range channels {
		stmts[i] = "LISTEN " + pgx.Identifier{c}.Sanitize()
	}
	if _, err := conn.Exec(ctx, strings.Join(stmts, "; ")); err != nil {
		conn.Release()
		return nil, fmt.Errorf("listen on %v: %w", channels, err)
	}
	return &Listener{conn: conn}, nil
}

// Wait returns the next notification, blocking until one arrives, ctx
// ends or the connection fails.
func (l *Listener) Wait(ctx context.Context) (*pgconn.Notification, error) {
	return l.conn.Conn().WaitForNotification(ctx)
}

// Close stops listening and returns the connection to the pool; one that
// cannot UNLISTEN is closed instead, so no pooled session keeps receiving
// notifications nobody reads.
func (l *Listener) Close() {
	if _, err := l.conn.Exec(context.Background(), "UNLISTEN *"); err != nil {
		l.conn.Conn().Close(context.Background())
	}
	l.conn.Release()
}

// Waiter is a LISTEN connection as KeepListening uses it (*Listener).
type Waiter interface {
	Wait(ctx context.Context) (*pgconn.Notification, error)
	Close()
}

// Reconnection backoff of KeepListening: a failed connection is retried
// after 100 ms, doubling to 5 s while attempts keep failing, and back to
// 100 ms once one was established — a restart of PostgreSQL is followed
// within a fraction of a second, a long outage costs one attempt per 5 s.
const (
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 5 * time.Second
)

// Following is what KeepListening does with its connections.
type Following struct {
	// Open opens a LISTEN connection, e.g. Store.Listen on the channels
	// followed.
	Open func(ctx context.Context) (Waiter, error)
	// Up is called once a connection is established, before any of its
	// notifications (nil: nothing).
	Up func()
	// Notify is called with each notification, in order.
	Notify func(*pgconn.Notification)
	// Down is called when an established connection ends, whatever the
	// reason, ctx's end included (nil: nothing).
	Down func()
	// Lost is called, unless ctx ended, after a connection failed or could
	// not be opened, before the wait for the next attempt; err says why
	// (nil: logged by Logger with Warning).
	Lost func(err error)
	// Logger and Warning log a lost connection when Lost is nil.
	Logger  *slog.Logger
	Warning string
}

// KeepListening follows f until ctx ends: it opens a connection, hands
// its notifications over, and reconnects after a failure, with backoff.
// Everyone who keeps state from notifications uses it, so the state is
// trusted exactly while a connection is up (between Up and Down), and
// reconnection behaves the same everywhere.
func KeepListening(ctx context.Context, f Following) {
	backoff := listenMinBackoff
	for {
		established, err := follow(ctx, f)
		if ctx.Err() != nil {
			return
		}
		if established {
			backoff = listenMinBackoff
		}
		switch {
		case f.Lost != nil:
			f.Lost(err)
		case f.Logger != nil:
			f.Logger.Warn(f.Warning, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, listenMaxBackoff)
	}
}

// follow hands one connection's notifications to f for as long as it
// lasts; it reports whether the connection was established, and why it
// ended.
func follow(ctx context.Context, f Following) (bool, error) {
	l, err := f.Open(ctx)
	if err != nil {
		return false, err
	}
	defer l.Close()
	if f.Up != nil {
		f.Up()
	}
	if f.Down != nil {
		defer f.Down()
	}
	for {
		n, err := l.Wait(ctx)
		if err != nil {
			return true, err
		}
		f.Notify(n)
	}
}
