// Package pgembed runs a private PostgreSQL server from the machine's own
// server binaries: the product's zero-configuration default and the database
// behind every test.
//
// It exists because the usual helpers cannot run as root (PostgreSQL refuses
// to, and embedded-postgres has no way to drop privileges), and because our
// tests must use a real server. The server listens only on a Unix socket in a
// fresh private folder, so no TCP port is chosen, taken or exposed.
package pgembed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"presencebridge/internal/store/schema"

	"github.com/jackc/pgx/v5"
)

// Options say where and how to run the server.
type Options struct {
	// DataDir holds the cluster; it is created and initialised on first use
	// and kept across runs.
	DataDir string
	// BinDir overrides binary discovery.
	BinDir string
	// RunAs names the OS user to run as when we are root (default "postgres",
	// else "nobody").
	RunAs string
	// Durable false trades crash safety for speed (fsync off): for tests.
	Durable bool
	// MaxConnections overrides max_connections (0: PostgreSQL's default).
	MaxConnections int
	// Settings are further server settings (name → value), e.g. a
	// benchmark's shared_preload_libraries=pg_stat_statements.
	Settings map[string]string
	// StartTimeout bounds how long Start waits for the server to accept
	// connections (default 30 s).
	StartTimeout time.Duration
	Logger       *slog.Logger
}

// Server is a running PostgreSQL server: owned by this process (Start), or
// another process's that Open connected to.
type Server struct {
	socketDir string
	port      int // 0: PostgreSQL's default, which our own servers use
	dataDir   string
	logger    *slog.Logger
	log       *tailBuffer
	// attached: another process runs the server; Stop leaves it running.
	attached bool

	cmd      *exec.Cmd
	exited   chan struct{} // closed when the server process has exited
	waitErr  error
	stopOnce sync.Once
	stopErr  error
}

// Superuser is the role initdb creates and connections use.
const Superuser = "postgres"

// Start initialises DataDir if it holds no cluster yet and starts the server.
// It returns once the server accepts connections.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("pgembed: no data folder given")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, err
	}
	acct, err := chooseAccount(opts.RunAs)
	if err != nil {
		return nil, err
	}
	// Parents we create must let the server's account pass through (0711:
	// enter, not list) when we drop privileges; the data folder itself is 0700.
	if err := os.MkdirAll(filepath.Dir(dataDir), 0o711); err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Dir(dataDir), err)
	}
	if err := acct.checkReachable(dataDir); err != nil {
		return nil, err
	}
	major, err := dataMajor(dataDir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dataDir, "PG_VERSION"), err)
	}
	binDir, err := findBinDir(opts.BinDir, major)
	if err != nil {
		return nil, err
	}
	if major != 0 {
		if have, err := serverMajor(binDir); err == nil && have != major {
			return nil, fmt.Errorf("the data folder %s was made by PostgreSQL %d but only PostgreSQL %d binaries were found (%s): "+
				"install PostgreSQL %d, or move the folder away to start afresh", dataDir, major, have, binDir, major)
		}
	}
	if err := acct.prepareDir(dataDir); err != nil {
		return nil, fmt.Errorf("prepare data folder: %w", err)
	}
	if major == 0 {
		if err := initdb(ctx, binDir, dataDir, acct); err != nil {
			return nil, err
		}
		opts.Logger.Info("initialised a PostgreSQL data folder", "dir", dataDir)
	}

	// Socket paths are limited to ~107 bytes, so the socket lives in a short
	// private folder of its own rather than beside the data.
	socketDir, err := os.MkdirTemp("", "pb-pg-")
	if err != nil {
		return nil, err
	}
	if err := acct.prepareDir(socketDir); err != nil {
		os.RemoveAll(socketDir)
		return nil, err
	}
	s := &Server{socketDir: socketDir, dataDir: dataDir, logger: opts.Logger, log: newTailBuffer(8 << 10), exited: make(chan struct{})}
	args := []string{"-D", dataDir, "-k", socketDir,
		"-c", "listen_addresses=", "-c", "logging_collector=off"}
	if !opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	} else if _, named := opts.Settings["wal_compression"]; !named {
		args = append(args, "-c", "wal_compression="+walCompression(binDir, dataDir, acct))
	}
	if opts.MaxConnections > 0 {
		args = append(args, "-c", "max_connections="+strconv.Itoa(opts.MaxConnections))
	}
	for _, name := range slices.Sorted(maps.Keys(opts.Settings)) {
		args = append(args, "-c", name+"="+opts.Settings[name])
	}
	s.cmd = exec.Command(filepath.Join(binDir, "postgres"), args...)
	s.cmd.SysProcAttr = acct.sysProcAttr()
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	if err := s.launch(); err != nil {
		os.RemoveAll(socketDir)
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if err := s.waitReady(ctx, opts.StartTimeout); err != nil {
		s.Stop()
		return nil, err
	}
	opts.Logger.Debug("PostgreSQL is up", "dir", dataDir, "socket", socketDir, "pid", s.cmd.Process.Pid)
	return s, nil
}

// launch starts the server from a goroutine locked to its OS thread that
// lives as long as the server: Linux sends the parent-death signal when the
// forking thread ends, not the process (golang/go#27505), so the thread must
// not be reused or retired while postgres runs. If this process dies without
// calling Stop, the server gets SIGQUIT and exits.
func (s *Server) launch() error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Deliberately no UnlockOSThread: the thread dies with the goroutine.
		if err := s.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	return <-started
}

func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-s.exited:
			return s.explainExit()
		case <-ctx.Done():
			return fmt.Errorf("PostgreSQL did not accept connections within %s: %s", timeout, s.log.lastLines(5))
		case <-tick.C:
		}
	}
}

func (s *Server) explainExit() error {
	out := s.log.String()
	if strings.Contains(out, `lock file "postmaster.pid" already exists`) {
		return fmt.Errorf("the data folder %s is in use by another running PostgreSQL server: "+
			"stop the other presencebridge process or set PB_DATA_DIR to another folder: %w", s.dataDir, ErrInUse)
	}
	return fmt.Errorf("postgres exited (%v): %s", s.waitErr, s.log.lastLines(5))
}

// DSN returns a connection string for database db over the server's socket.
func (s *Server) DSN(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User(Superuser), Path: "/" + db}
	q := url.Values{"host": {s.socketDir}, "sslmode": {"disable"}}
	if s.port != 0 {
		q.Set("port", strconv.Itoa(s.port))
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// DataDir is the absolute path of the cluster's data folder.
func (s *Server) DataDir() string { return s.dataDir }

// Stop shuts the server down ("fast" shutdown: running transactions are
// rolled back, then a clean checkpoint) and removes the socket folder. It is
// safe to call more than once. A server Open attached to is another
// process's: Stop leaves it running.
func (s *Server) Stop() error {
	if s.attached {
		return nil
	}
	s.stopOnce.Do(func() {
		defer os.RemoveAll(s.socketDir)
		select {
		case <-s.exited:
			return
		default:
		}
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.exited:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Signal(syscall.SIGQUIT) // immediate shutdown
			<-s.exited
			s.stopErr = errors.New("postgres did not stop within 30s; sent SIGQUIT")
		}
	})
	return s.stopErr
}

// Exited is closed when the server process ends, for whatever reason; for
// a server Open attached to, never.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// EnsureDatabase creates database name if it does not exist.
func (s *Server) EnsureDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return schema.EnsureDatabase(ctx, conn, name)
}

// walCompression is how a durable server compresses the full-page images
// in its WAL: lz4 where the binaries were built with it (PostgreSQL 15 and
// later), else PostgreSQL's own pglz ("on", which every version takes).
// After each checkpoint the first change to a page writes the whole page
// to WAL; at a million users that was most of it right after a cold start
// (12–38 MB a second beside a flow that alone writes 5), and compressing
// those pages with lz4 halved it (BENCHMARKS.md, issue 16). postgres -C
// checks the value against the binaries without starting a server; it
// is not asked when Options.Settings names one.
func walCompression(binDir, dataDir string, acct account) string {
	cmd := exec.Command(filepath.Join(binDir, "postgres"), "-D", dataDir, "-C", "wal_compression", "-c", "wal_compression=lz4")
	cmd.SysProcAttr = acct.sysProcAttr()
	if err := cmd.Run(); err != nil {
		return "on"
	}
	return "lz4"
}

func initdb(ctx context.Context, binDir, dataDir string, acct account) error {
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"),
		"-D", dataDir, "-U", Superuser, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	cmd.SysProcAttr = acct.sysProcAttr()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("initdb %s: %v: %s", dataDir, err, lastLines(out.String(), 5))
	}
	return nil
}
