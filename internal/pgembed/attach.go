package pgembed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrInUse is Start's error when another server runs on the data folder.
var ErrInUse = errors.New("data folder in use")

// Open connects to the server another process runs on opts.DataDir, or
// starts one as Start does when none runs. Commands that work on the
// database briefly (`presencebridge invite create` while `presencebridge
// dev` runs) use it: a data folder holds one server, so a second Start
// would fail. A server attached to is not ours: Stop leaves it running,
// and it ends when its owner stops it.
func Open(ctx context.Context, opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("pgembed: no data folder given")
	}
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, err
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	if s, err := attach(ctx, dataDir, opts.StartTimeout); s != nil || err != nil {
		return s, err
	}
	s, err := Start(ctx, opts)
	if errors.Is(err, ErrInUse) { // another process started one since we looked
		if s, aerr := attach(ctx, dataDir, opts.StartTimeout); s != nil {
			return s, aerr
		}
	}
	if s != nil && opts.Logger != nil {
		opts.Logger.Debug("no PostgreSQL server ran on the data folder; started one", "dir", dataDir)
	}
	return s, err
}

// postmaster is what a running server writes to postmaster.pid
// (https://www.postgresql.org/docs/current/server-start.html, and
// src/include/utils/pidfile.h for the line order): its pid, the data
// folder, start time, port, first socket directory, first listen address,
// shared-memory key and, since PostgreSQL 10, its status.
type postmaster struct {
	pid       int
	port      int
	socketDir string
	status    string // starting, ready, standby, stopping
}

// readPostmaster reads dataDir's postmaster.pid; ok is false when there is
// none (no server runs, or it stopped cleanly).
func readPostmaster(dataDir string) (pm postmaster, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if errors.Is(err, os.ErrNotExist) {
		return pm, false, nil
	}
	if err != nil {
		return pm, false, err
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 5 {
		return pm, false, nil // being written: read it again later
	}
	if pm.pid, err = strconv.Atoi(strings.TrimSpace(lines[0])); err != nil {
		return pm, false, nil
	}
	if pm.port, err = strconv.Atoi(strings.TrimSpace(lines[3])); err != nil {
		return pm, false, nil
	}
	pm.socketDir = strings.TrimSpace(lines[4])
	if len(lines) > 7 {
		pm.status = strings.TrimSpace(lines[7])
	}
	return pm, true, nil
}

// alive reports whether process pid exists (EPERM: it does, as another
// user's: the server runs as postgres when we are root).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// attach connects to the server running on dataDir. It answers nil, nil
// when none runs (no postmaster.pid, or one left by a process that is
// gone), and waits up to timeout for a server that is starting.
func attach(ctx context.Context, dataDir string, timeout time.Duration) (*Server, error) {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		pm, ok, err := readPostmaster(dataDir)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", filepath.Join(dataDir, "postmaster.pid"), err)
		}
		if !ok || !alive(pm.pid) {
			return nil, nil // none, or a stale file Start's server replaces
		}
		if pm.socketDir != "" && pm.status != "stopping" {
			s := &Server{socketDir: pm.socketDir, port: pm.port, dataDir: dataDir, attached: true,
				log: newTailBuffer(0), exited: make(chan struct{})}
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			conn, err := pgx.Connect(cctx, s.DSN("postgres"))
			cancel()
			if err == nil {
				conn.Close(ctx)
				return s, nil
			}
			lastErr = err
		}
		if lastErr == nil {
			lastErr = errors.New("the server is " + pm.status)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("a PostgreSQL server (pid %d) runs on %s but does not accept connections: %v", pm.pid, dataDir, lastErr)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
