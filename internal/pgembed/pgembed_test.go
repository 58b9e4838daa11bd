package pgembed

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// dataDir returns a folder the server's account can reach even when the test
// runs as root with a TMPDIR under /root.
func dataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "pgembed-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "nested", "data")
}

func TestStartKeepsDataAcrossRestarts(t *testing.T) {
	ctx := t.Context()
	dir := dataDir(t)

	s, err := Start(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	if err := s.EnsureDatabase(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	mustExec(t, s.DSN("app"), `CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')`)
	if err := s.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := os.Stat(s.socketDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket folder %s left behind after Stop", s.socketDir)
	}

	s2, err := Start(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatalf("second start on the same folder: %v", err)
	}
	defer s2.Stop()
	if err := s2.EnsureDatabase(ctx, "app"); err != nil {
		t.Fatalf("EnsureDatabase on an existing database: %v", err)
	}
	conn, err := pgx.Connect(ctx, s2.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, `SELECT v FROM kept`).Scan(&v); err != nil || v != "still here" {
		t.Fatalf("row after restart = %q, %v; want the row written before", v, err)
	}
}

func TestStartRefusesAFolderInUse(t *testing.T) {
	ctx := t.Context()
	dir := dataDir(t)
	s, err := Start(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	_, err = Start(ctx, Options{DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), "in use by another running PostgreSQL server") {
		t.Fatalf("second server on one folder: err = %v, want a clear 'in use' error", err)
	}
	// The first server must be unharmed.
	mustExec(t, s.DSN("postgres"), `SELECT 1`)
}

func TestStopIsIdempotentAndEndsTheProcess(t *testing.T) {
	s, err := Start(t.Context(), Options{DataDir: dataDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	pid := s.cmd.Process.Pid
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	select {
	case <-s.Exited():
	default:
		t.Fatalf("server pid %d still running after Stop", pid)
	}
}

func TestMissingBinariesExplainHowToFix(t *testing.T) {
	_, err := Start(t.Context(), Options{DataDir: dataDir(t), BinDir: t.TempDir()})
	if !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("err = %v, want ErrNoBinaries", err)
	}
	for _, want := range []string{"apt-get install postgresql", "PB_DATABASE_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestRootRefusesUnreachableDataFolder(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root drops privileges; as a normal user every folder we can use, the server can use")
	}
	parent, err := os.MkdirTemp("/tmp", "pgembed-closed-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(parent)
	if err := os.Chmod(parent, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err = Start(t.Context(), Options{DataDir: filepath.Join(parent, "data")})
	if err == nil || !strings.Contains(err.Error(), "cannot enter "+parent) || !strings.Contains(err.Error(), "PB_DATA_DIR") {
		t.Fatalf("err = %v, want one naming %s and PB_DATA_DIR", err, parent)
	}
}

func TestParseMajor(t *testing.T) {
	for in, want := range map[string]int{
		"postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n": 15,
		"postgres (PostgreSQL) 17.2\n":                           17,
		"15\n":                                                   15,
	} {
		if got, err := parseMajor(in); err != nil || got != want {
			t.Errorf("parseMajor(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseMajor("garbage"); err == nil {
		t.Error("parseMajor(garbage) succeeded")
	}
}

func mustExec(t *testing.T, dsn, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatal(err)
	}
}

func TestOpenConnectsToTheServerAlreadyRunningOnTheFolder(t *testing.T) {
	ctx := t.Context()
	dir := dataDir(t)
	owner, err := Start(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Stop()
	if err := owner.EnsureDatabase(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	mustExec(t, owner.DSN("app"), `CREATE TABLE shared (v text); INSERT INTO shared VALUES ('from the owner')`)

	second, err := Open(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatalf("Open on a folder whose server runs: %v", err)
	}
	conn, err := pgx.Connect(ctx, second.DSN("app"))
	if err != nil {
		t.Fatalf("connect through the attached server's DSN: %v", err)
	}
	var v string
	err = conn.QueryRow(ctx, `SELECT v FROM shared`).Scan(&v)
	conn.Close(ctx)
	if err != nil || v != "from the owner" {
		t.Fatalf("read through the second open = %q, %v; want the owner's row", v, err)
	}

	// The server is the owner's: the second's Stop leaves it running.
	if err := second.Stop(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, owner.DSN("app"), `SELECT 1`)
}

func TestOpenStartsAServerWhenNoneRunsOnTheFolder(t *testing.T) {
	ctx := t.Context()
	dir := dataDir(t)
	first, err := Start(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatalf("Open on a folder whose server stopped: %v", err)
	}
	defer s.Stop()
	if s.attached {
		t.Fatal("Open attached to a server that had stopped")
	}
	mustExec(t, s.DSN("postgres"), `SELECT 1`)
}

// A durable server compresses the full pages it writes to WAL after each
// checkpoint, with lz4 where its binaries have it; a setting the caller
// names wins, and a server for tests (no fsync, no full pages) is left as
// it was.
func TestADurableServerCompressesTheFullPagesItWritesToWAL(t *testing.T) {
	ctx := t.Context()
	show := func(s *Server) (value string, lz4 bool) {
		t.Helper()
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if err := conn.QueryRow(ctx, `SELECT setting, coalesce('lz4' = ANY(enumvals), false) FROM pg_settings WHERE name = 'wal_compression'`).Scan(&value, &lz4); err != nil {
			t.Fatal(err)
		}
		return value, lz4
	}
	for _, c := range []struct {
		name     string
		opts     Options
		want     func(lz4 bool) string
		wantNote string
	}{
		{"durable", Options{Durable: true}, func(lz4 bool) string {
			if lz4 {
				return "lz4"
			}
			return "pglz" // PostgreSQL 15's name for "on"; older ones say "on"
		}, "lz4 where the binaries have it, else pglz"},
		{"durable, the caller's setting", Options{Durable: true, Settings: map[string]string{"wal_compression": "off"}}, func(bool) string { return "off" }, "the caller's off"},
		{"for tests", Options{}, func(bool) string { return "off" }, "left off"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.opts.DataDir = dataDir(t)
			s, err := Start(ctx, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Stop()
			got, lz4 := show(s)
			if want := c.want(lz4); got != want && !(want == "pglz" && got == "on") {
				t.Errorf("wal_compression = %q, want %q (%s)", got, want, c.wantNote)
			}
		})
	}
}
