package store

import (
	"context"
	"fmt"
	"strings"

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
