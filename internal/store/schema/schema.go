// Package schema brings a database to the schema this binary expects: our
// own migrations (migrations/, golang-migrate) and then River's job-queue
// schema (rivermigrate), and reports where a database stands.
//
// Any number of instances may call Up at once. golang-migrate locks itself,
// but River's migrator takes no lock (several concurrent runs fail with
// duplicate-type errors), so both run under one session advisory lock of ours.
package schema

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"presencebridge/migrations"
)

// lockKey is the advisory lock held while migrating ("pbschema" in ASCII).
const lockKey int64 = 0x7062736368656d61

// Status says where a database stands against this binary's migrations.
type Status struct {
	Version      uint // our last applied migration (0: none)
	Dirty        bool // a migration failed half-way; someone must fix and force it
	Head         uint // our newest migration in this binary
	RiverVersion int  // River's last applied migration (0: none)
	RiverHead    int  // River's newest migration in this binary
}

// AtHead reports whether both schemas are complete and clean.
func (s Status) AtHead() bool {
	return !s.Dirty && s.Version == s.Head && s.RiverVersion == s.RiverHead
}

func (s Status) String() string {
	dirty := ""
	if s.Dirty {
		dirty = " (dirty)"
	}
	return fmt.Sprintf("presencebridge schema %d%s of %d; River schema %d of %d", s.Version, dirty, s.Head, s.RiverVersion, s.RiverHead)
}

// Up applies every pending migration, ours first, then River's.
func Up(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	return withLock(ctx, pool, func() error {
		m, closeM, err := newMigrate(pool)
		if err != nil {
			return err
		}
		defer closeM()
		if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
			return explain(err)
		}
		rm, err := riverMigrator(pool, logger)
		if err != nil {
			return err
		}
		res, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil)
		if err != nil {
			return fmt.Errorf("river migrations: %w", err)
		}
		if n := len(res.Versions); n > 0 {
			logger.Info("applied River migrations", "count", n)
		}
		return nil
	})
}

// Down reverts our newest `steps` migrations. With all, it reverts every one
// of ours and then River's schema too, leaving an empty database.
func Down(ctx context.Context, pool *pgxpool.Pool, steps int, all bool, logger *slog.Logger) error {
	return withLock(ctx, pool, func() error {
		m, closeM, err := newMigrate(pool)
		if err != nil {
			return err
		}
		defer closeM()
		if all {
			err = m.Down()
		} else {
			err = m.Steps(-steps)
		}
		if err != nil && !errors.Is(err, migrate.ErrNoChange) {
			return explain(err)
		}
		if !all {
			return nil
		}
		rm, err := riverMigrator(pool, logger)
		if err != nil {
			return err
		}
		_, err = rm.Migrate(ctx, rivermigrate.DirectionDown, &rivermigrate.MigrateOpts{TargetVersion: -1})
		return err
	})
}

// Force records version as applied and clean, after an operator has fixed
// by hand what a failed migration left. It runs no SQL of the migration.
func Force(ctx context.Context, pool *pgxpool.Pool, version int) error {
	return withLock(ctx, pool, func() error {
		m, closeM, err := newMigrate(pool)
		if err != nil {
			return err
		}
		defer closeM()
		return m.Force(version)
	})
}

// Read returns the database's schema status. It is cheap (two small queries)
// so that readiness probes can call it.
func Read(ctx context.Context, pool *pgxpool.Pool) (Status, error) {
	st := Status{Head: head(), RiverHead: riverHead()}
	err := pool.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&st.Version, &st.Dirty)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) && !isUndefinedTable(err) {
		return st, fmt.Errorf("read schema version: %w", err)
	}
	err = pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM river_migration WHERE line = 'main'`).Scan(&st.RiverVersion)
	if err != nil && !isUndefinedTable(err) {
		return st, fmt.Errorf("read River schema version: %w", err)
	}
	return st, nil
}

// CheckAtHead returns an error unless the database is fully migrated.
func CheckAtHead(ctx context.Context, pool *pgxpool.Pool) error {
	st, err := Read(ctx, pool)
	if err != nil {
		return err
	}
	if !st.AtHead() {
		return fmt.Errorf("database not migrated: %s (run `presencebridge migrate up`)", st)
	}
	return nil
}

func withLock(ctx context.Context, pool *pgxpool.Pool, fn func() error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		return fmt.Errorf("migrate: take lock: %w", err)
	}
	defer func() {
		// A fresh context: the lock must go even when ctx was cancelled,
		// or this pooled connection would keep it.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockKey); err != nil {
			conn.Conn().Close(context.Background())
		}
	}()
	return fn()
}

func newMigrate(pool *pgxpool.Pool) (*migrate.Migrate, func(), error) {
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return nil, nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool) // closing it leaves the pool open
	drv, err := migratepgx.WithInstance(db, &migratepgx.Config{})
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("migrate: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		drv.Close()
		return nil, nil, fmt.Errorf("migrate: %w", err)
	}
	return m, func() { m.Close() }, nil
}

func riverMigrator(pool *pgxpool.Pool, logger *slog.Logger) (*rivermigrate.Migrator[pgx.Tx], error) {
	return rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: logger})
}

func explain(err error) error {
	var dirty migrate.ErrDirty
	if errors.As(err, &dirty) {
		return fmt.Errorf("migration %d failed earlier and left the schema dirty: fix the database by hand, "+
			"then run `presencebridge migrate force %d` (or the previous version to re-run it)", dirty.Version, dirty.Version)
	}
	return fmt.Errorf("migrate: %w", err)
}

// head is the newest migration version embedded in this binary.
func head() uint {
	var max uint
	entries, _ := fs.ReadDir(migrations.FS, ".")
	for _, e := range entries {
		v, _, ok := strings.Cut(e.Name(), "_")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(v, 10, 32); err == nil && uint(n) > max {
			max = uint(n)
		}
	}
	return max
}

func riverHead() int {
	rm, err := rivermigrate.New[pgx.Tx](riverpgxv5.New(nil), nil)
	if err != nil {
		return 0
	}
	all := rm.AllVersions()
	return all[len(all)-1].Version
}

func isUndefinedTable(err error) bool {
	var pgErr interface{ SQLState() string }
	return errors.As(err, &pgErr) && pgErr.SQLState() == "42P01"
}

// EnsureDatabase creates database name through conn (a connection to
// another database of the server) unless it exists.
func EnsureDatabase(ctx context.Context, conn *pgx.Conn, name string) error {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr interface{ SQLState() string }
	if errors.As(err, &pgErr) && pgErr.SQLState() == "42P04" { // created concurrently
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// CloneDatabase creates database name as a copy of template (which nobody
// may be connected to meanwhile), through conn.
func CloneDatabase(ctx context.Context, conn *pgx.Conn, name, template string) error {
	_, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{template}.Sanitize())
	if err != nil {
		return fmt.Errorf("create database %s from %s: %w", name, template, err)
	}
	return nil
}

// DropDatabase drops database name if it exists, ending its sessions.
func DropDatabase(ctx context.Context, conn *pgx.Conn, name string) error {
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}
