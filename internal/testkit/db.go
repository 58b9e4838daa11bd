// Package testkit gives tests the real things they need: a PostgreSQL server
// for the whole `go test` process (started from the local binaries via
// pgembed) and a fresh, fully migrated database per test, cloned from a
// template in a few milliseconds with CREATE DATABASE … TEMPLATE.
//
// A package that uses it declares
//
//	func TestMain(m *testing.M) { testkit.Main(m) }
//
// so that the server is stopped and its folder removed when the tests end.
// Tests fail, never skip, when PostgreSQL cannot start.
package testkit

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/pgembed"
	"presencebridge/internal/store"
	"presencebridge/internal/store/schema"
)

const templateDB = "pb_template"

var (
	mainCalled atomic.Bool

	startOnce sync.Once
	server    *pgembed.Server
	serverDir string
	startErr  error

	cloneMu sync.Mutex // CREATE DATABASE … TEMPLATE wants the template idle
	dbSeq   atomic.Int64
)

// Main runs the tests of a package and then stops the shared server.
func Main(m *testing.M) {
	mainCalled.Store(true)
	code := m.Run()
	if server != nil {
		server.Stop()
	}
	if serverDir != "" {
		os.RemoveAll(serverDir)
	}
	os.Exit(code)
}

// Server returns the process-wide PostgreSQL server, starting it and
// migrating the template database on first use.
func Server(t testing.TB) *pgembed.Server {
	t.Helper()
	if !mainCalled.Load() {
		t.Fatal("testkit: this package has no `func TestMain(m *testing.M) { testkit.Main(m) }`, so its server would never be stopped")
	}
	startOnce.Do(func() { startErr = start() })
	if startErr != nil {
		t.Fatalf("testkit: cannot start PostgreSQL for the tests: %v", startErr)
	}
	return server
}

func start() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "pb-test-pg-")
	if err != nil {
		return err
	}
	serverDir = dir
	// The server may run as another user (we are root in CI): let it through.
	if err := os.Chmod(dir, 0o711); err != nil {
		return err
	}
	server, err = pgembed.Start(ctx, pgembed.Options{
		DataDir:        filepath.Join(dir, "data"),
		MaxConnections: 300, // parallel tests, each with its own small pool
	})
	if err != nil {
		return err
	}
	if err := server.EnsureDatabase(ctx, templateDB); err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, server.DSN(templateDB))
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := schema.Up(ctx, pool, slog.New(slog.DiscardHandler)); err != nil {
		return fmt.Errorf("migrate the template database: %w", err)
	}
	return nil
}

// NewDatabase creates a fresh database, migrated to head, that is dropped
// when the test ends, and returns its connection string.
func NewDatabase(t testing.TB) string {
	t.Helper()
	srv := Server(t)
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), dbSeq.Add(1))
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, srv.DSN("postgres"))
	if err != nil {
		t.Fatalf("testkit: connect: %v", err)
	}
	defer admin.Close(ctx)
	cloneMu.Lock()
	err = schema.CloneDatabase(ctx, admin, name, templateDB)
	cloneMu.Unlock()
	if err != nil {
		t.Fatalf("testkit: create database: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, srv.DSN("postgres"))
		if err != nil {
			return // the server is going away; Main removes everything
		}
		defer conn.Close(ctx)
		schema.DropDatabase(ctx, conn, name) // best effort: Main removes the server anyway
	})
	return srv.DSN(name)
}

// DB returns a connection pool on a fresh, migrated database of its own.
// The pool is closed and the database dropped when the test ends.
func DB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dsn := NewDatabase(t)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 8
	store.ConfigurePool(cfg) // as the product's pools
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("testkit: open pool: %v", err)
	}
	t.Cleanup(pool.Close) // runs before the DROP registered earlier
	return pool
}
