package schema_test

import (
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/store/schema"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
	"presencebridge/migrations"
)

func TestMain(m *testing.M) { testkit.Main(m) }

var quiet = slog.New(slog.DiscardHandler)

// emptyDB returns a pool on a database with no schema at all.
func emptyDB(t *testing.T, maxConns int32) (*pgxpool.Pool, string) {
	t.Helper()
	srv := testkit.Server(t)
	name := strings.ToLower(strings.NewReplacer("/", "_").Replace(t.Name()))
	if err := srv.EnsureDatabase(t.Context(), name); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(srv.DSN(name))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, srv.DSN(name)
}

func TestTemplateDatabaseIsAtHead(t *testing.T) {
	pool := testkit.DB(t)
	st, err := schema.Read(t.Context(), pool)
	if err != nil {
		t.Fatal(err)
	}
	if !st.AtHead() || st.Head == 0 || st.RiverHead == 0 {
		t.Fatalf("fresh test database: %s; want both schemas at head", st)
	}
	if err := schema.CheckAtHead(t.Context(), pool); err != nil {
		t.Fatal(err)
	}
}

func TestUpDownUpLeavesTheSameSchema(t *testing.T) {
	ctx := t.Context()
	pool, _ := emptyDB(t, 4)
	if err := schema.CheckAtHead(ctx, pool); err == nil {
		t.Fatal("CheckAtHead passed on an empty database")
	}
	if err := schema.Up(ctx, pool, quiet); err != nil {
		t.Fatal(err)
	}
	before := storetest.Tables(t, pool)
	if err := schema.Down(ctx, pool, 0, true, quiet); err != nil {
		t.Fatalf("down --all: %v", err)
	}
	if left := storetest.Tables(t, pool); len(left) > 1 { // schema_migrations stays
		t.Fatalf("after down --all these tables remain: %v", left)
	}
	if err := schema.Up(ctx, pool, quiet); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if after := storetest.Tables(t, pool); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("tables after up/down/up = %v, want %v", after, before)
	}
}

func TestConcurrentUpFromManyInstances(t *testing.T) {
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	_, dsn := emptyDB(t, 1)
	for range 6 {
		wg.Go(func() {
			// Each "instance" has a pool of its own, as separate processes would.
			pool, err := pgxpool.New(ctx, dsn)
			if err != nil {
				errs <- err
				return
			}
			defer pool.Close()
			errs <- schema.Up(ctx, pool, quiet)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Up: %v", err)
		}
	}
	pool, _ := emptyDB(t, 2)
	if err := schema.CheckAtHead(ctx, pool); err != nil {
		t.Fatal(err)
	}
}

func TestDirtySchemaIsReportedWithTheWayOut(t *testing.T) {
	ctx := t.Context()
	pool := testkit.DB(t)
	if _, err := pool.Exec(ctx, `UPDATE schema_migrations SET dirty = true`); err != nil {
		t.Fatal(err)
	}
	err := schema.Up(ctx, pool, quiet)
	if err == nil || !strings.Contains(err.Error(), "presencebridge migrate force") {
		t.Fatalf("Up on a dirty schema: %v; want advice to force", err)
	}
	if err := schema.CheckAtHead(ctx, pool); err == nil {
		t.Fatal("CheckAtHead passed on a dirty schema")
	}
	st, _ := schema.Read(ctx, pool)
	if err := schema.Force(ctx, pool, int(st.Version)); err != nil {
		t.Fatal(err)
	}
	if err := schema.CheckAtHead(ctx, pool); err != nil {
		t.Fatalf("after force: %v", err)
	}
}

// TestADatabaseThatSkippedMigration51GetsItsIndexFrom62: 000051 was
// committed after 000052, and a database at 52 or later never runs 51.
// One that reached 61 without 51's index gets it at 62, with 51's
// definition.
func TestADatabaseThatSkippedMigration51GetsItsIndexFrom62(t *testing.T) {
	ctx := t.Context()
	pool, _ := emptyDB(t, 4)
	if err := schema.Up(ctx, pool, quiet); err != nil {
		t.Fatal(err)
	}
	indexDef := func() string {
		var def string
		err := pool.QueryRow(ctx, `SELECT coalesce((SELECT indexdef FROM pg_indexes WHERE indexname = 'deliveries_due_idx'), '')`).Scan(&def)
		if err != nil {
			t.Fatal(err)
		}
		return def
	}
	want := indexDef()
	if !strings.Contains(want, "WHERE ((status = 'pending'::text) AND (attempts >= 0))") {
		t.Fatalf("deliveries_due_idx after up: %q", want)
	}
	if _, err := pool.Exec(ctx, `DROP INDEX deliveries_due_idx`); err != nil {
		t.Fatal(err)
	}
	if err := schema.Force(ctx, pool, 61); err != nil {
		t.Fatal(err)
	}
	if err := schema.Up(ctx, pool, quiet); err != nil {
		t.Fatal(err)
	}
	if got := indexDef(); got != want {
		t.Fatalf("deliveries_due_idx after up from 61 = %q, want %q", got, want)
	}
}

// TestMigrationFilesArePaired catches a missing .down.sql or a reused number.
func TestMigrationFilesArePaired(t *testing.T) {
	entries, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	count := map[string][]string{}
	for _, name := range entries {
		num, _, _ := strings.Cut(name, "_")
		if len(num) != 6 {
			t.Errorf("%s: migration numbers are six digits (000001_…) so files sort in order", name)
		}
		count[num] = append(count[num], name)
	}
	for num, files := range count {
		sort.Strings(files)
		if len(files) != 2 || !strings.HasSuffix(files[0], ".down.sql") || !strings.HasSuffix(files[1], ".up.sql") {
			t.Errorf("migration %s has files %v; want one .up.sql and one .down.sql", num, files)
		}
	}
}
