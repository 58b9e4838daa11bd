//go:build loadbench

package loadbench

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Knobs for finding what grows with the number of users (issue 16), off
// by default:
//
//   - PB_LOAD_STATEMENTS=1 loads pg_stat_statements in the run's
//     PostgreSQL; the statements with the most execution time of the cold
//     start (to every user subscribed), of the idle measurement and of each
//     latency phase of the first run are logged.
//   - PB_LOAD_IDLE_SECONDS=N measures, once the cold start is over, N
//     seconds with no change at all: CPU a second of the product's
//     processes and of PostgreSQL, and a CPU profile of serve.
//   - PB_LOAD_STOP=phases ends the run after the first run's latency
//     phases (no repair, no second run, no reference or renewals).
//   - PB_LOAD_REPAIR_INTERVAL (default 1h) is the product's periodic
//     repair: at 100,000 users, 1m re-reads as many users a second as
//     production's default of 10m does at 1,000,000.
//   - PB_LOAD_PHASE_PROFILE=serve,worker-1 takes a CPU profile of each
//     named role running in every latency phase (phaseProfiles);
//     graphsim names graphsim's own.
//   - PB_LOAD_GOGC=N runs the product's processes with GOGC=N (its
//     garbage collector's share of the CPU, measured against the default).
//   - PB_LOAD_PG_SETTINGS=shared_buffers=1GB,max_wal_size=8GB runs
//     PostgreSQL with those settings too (their effect, measured).
//   - PB_LOAD_LATENCY_TIMELINE=1 logs each latency phase's latencies by
//     the second of Graph's POST (count, p50, p99, slowest).
//   - PB_LOAD_PG_ACTIVITY=1 samples PostgreSQL's own background work
//     once a second in each latency phase — the WAL written and the
//     full-page images in it, autovacuum's tables and phases, the
//     checkpointer's wait, checkpoints begun — and logs it by the second,
//     beside PB_LOAD_LATENCY_TIMELINE's latencies.
//   - PB_LOAD_CPU_TIMELINE=1 logs each latency phase's CPU by the second:
//     the product's, PostgreSQL's, graphsim's with the harness's, and the
//     tenants the engine passed over (cpuTimeline).
//   - PB_LOAD_SETTLE_SECONDS=N waits, after the cold start and before the
//     latency phases, until PostgreSQL has done its upkeep of the cold
//     start, then a CHECKPOINT (settle), N seconds at most: every phase
//     then measures the steady flow, and none the cold start's aftermath
//     (autovacuum of the rows it wrote, its checkpoint).
//   - PB_LOAD_STEADY_SECONDS=N (default 240; 0 leaves it out) bounds the
//     wait before the first run's steady phase: once the repair is over,
//     the harness waits for PostgreSQL's upkeep (settle) and drives the
//     lowest rate again, reported as its own row beside the phase right
//     after the cold start.
//   - PB_LOAD_HOLD_SECONDS=N keeps the world (PostgreSQL above all) that
//     long once the run is over, for EXPLAIN at scale; its DSN is logged.

func statementsOn() bool { return os.Getenv("PB_LOAD_STATEMENTS") == "1" }

// postgresSettings are the knobs' server settings: PB_LOAD_STATEMENTS's,
// and PB_LOAD_PG_SETTINGS=name=value,name=value (e.g. shared_buffers=1GB)
// to measure a server setting's effect.
func postgresSettings() map[string]string {
	m := map[string]string{}
	if statementsOn() {
		m["shared_preload_libraries"], m["pg_stat_statements.track"], m["pg_stat_statements.max"] = "pg_stat_statements", "all", "5000"
	}
	for kv := range strings.SplitSeq(os.Getenv("PB_LOAD_PG_SETTINGS"), ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok {
			m[k] = v
		}
	}
	return m
}

// statements resets pg_stat_statements (made on first use) and returns a
// function that gives its top n statements by total execution time since,
// with the WAL each wrote and the full-page images in it.
func (w *world) statements(ctx context.Context, n int) func() string {
	if !statementsOn() {
		return func() string { return "" }
	}
	pool, err := pgxpool.New(ctx, w.pg.DirectDSN())
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		w.t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "SELECT pg_stat_statements_reset()"); err != nil {
		w.t.Fatal(err)
	}
	return func() string {
		defer pool.Close()
		rows, err := pool.Query(ctx, `SELECT calls, total_exec_time, rows, shared_blks_hit + shared_blks_read, wal_bytes, wal_fpi, left(regexp_replace(query, '\s+', ' ', 'g'), 240)
			FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC LIMIT $1`, n)
		if err != nil {
			return fmt.Sprintf("pg_stat_statements: %v", err)
		}
		defer rows.Close()
		var b strings.Builder
		fmt.Fprintf(&b, "%9s %10s %10s %12s %9s %8s  %s\n", "calls", "total ms", "rows", "blocks", "WAL MB", "pages", "query")
		for rows.Next() {
			var calls, nrows, blocks, fpi int64
			var total, wal float64
			var q string
			if err := rows.Scan(&calls, &total, &nrows, &blocks, &wal, &fpi, &q); err != nil {
				return err.Error()
			}
			fmt.Fprintf(&b, "%9d %10.0f %10d %12d %9.1f %8d  %s\n", calls, total, nrows, blocks, wal/(1<<20), fpi, q)
		}
		return b.String()
	}
}

// idle measures PB_LOAD_IDLE_SECONDS with no change: the product's and
// PostgreSQL's CPU a second, with serve's CPU profile and the statements.
func (w *world) idle(ctx context.Context) {
	secs := envInt("PB_LOAD_IDLE_SECONDS", 0)
	if secs == 0 {
		return
	}
	d := time.Duration(secs) * time.Second
	top := w.statements(ctx, 20)
	prod0, pg0 := w.cpu()
	began := time.Now()
	var profiled string
	var profiling sync.WaitGroup
	if _, ok := w.productPids()["serve"]; ok {
		profiling.Go(func() { profiled = w.profile("serve", min(d-time.Second, 30*time.Second)) })
	}
	time.Sleep(d)
	prod1, pg1 := w.cpu()
	took := time.Since(began).Seconds()
	profiling.Wait()
	w.t.Logf("idle for %s with %d users: product %.3f s CPU a second, PostgreSQL %.3f s a second (load %s)\n%s\n%s",
		d, w.total, (prod1-prod0).Seconds()/took, (pg1-pg0).Seconds()/took, LoadAverage(), top(), profileTop(profiled))
}

func stopAfterPhases() bool { return os.Getenv("PB_LOAD_STOP") == "phases" }

func repairInterval() string { return cmpOr(os.Getenv("PB_LOAD_REPAIR_INTERVAL"), "1h") }

// hold keeps the world PB_LOAD_HOLD_SECONDS once the run is over.
func (w *world) hold() {
	if secs := envInt("PB_LOAD_HOLD_SECONDS", 0); secs > 0 {
		w.t.Logf("holding the world %ds: psql %q", secs, w.pg.DirectDSN())
		time.Sleep(time.Duration(secs) * time.Second)
	}
}

// phaseProfiles are the roles PB_LOAD_PHASE_PROFILE names (serve,web,
// worker-1,…, and graphsim for graphsim's own): each running one is
// profiled in every latency phase, as
// serve is at the highest rate for the report, and the top of each is
// logged once the run is over.
func phaseProfiles() []string {
	var out []string
	for _, r := range strings.Split(os.Getenv("PB_LOAD_PHASE_PROFILE"), ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// logProfiles logs the top of each profile PB_LOAD_PHASE_PROFILE took.
func logProfiles(t *testing.T, files []string) {
	for _, f := range files {
		t.Log("phase profile: " + profileTop(f))
	}
}

// pgActivity samples, once a second until the returned function is called,
// what PostgreSQL does besides our statements (PB_LOAD_PG_ACTIVITY=1),
// with the WAL it wrote since the sample before and the full-page images
// in it (a page's first change after a checkpoint is written whole);
// the function returns one line a second.
func (w *world) pgActivity(ctx context.Context) func() string {
	i := 0
	var last background
	lines := w.sample(ctx, "PB_LOAD_PG_ACTIVITY", time.Second, func(ctx context.Context, pool *pgxpool.Pool) (string, error) {
		b, err := readBackground(ctx, pool)
		if err != nil {
			return "", err
		}
		i++
		wal, fpi := "-", "-"
		if i > 1 {
			wal, fpi = fmt.Sprintf("%.1f", float64(b.wal-last.wal)/(1<<20)), strconv.FormatInt(b.fpi-last.fpi, 10)
		}
		last = b
		return fmt.Sprintf("%6d %7s %6s %11d  %-28s %s", i-1, wal, fpi, b.checkpoints, cmpOr(b.checkpointer, "-"), cmpOr(b.vacuums, "-")), nil
	})
	return func() string {
		if s := lines(); s != "" {
			return "second  WAL MB  pages checkpoints  checkpointer                 autovacuum (phase)\n" + s
		}
		return ""
	}
}

// cpuTimeline samples once a second in a latency phase the CPU each part
// used in that second — the product's processes, PostgreSQL, graphsim with
// this harness — and the tenants the engine passed over in it (its
// engine_tenants rows recorded): what a stall in PB_LOAD_LATENCY_TIMELINE's
// seconds ran beside, where the product's queue stood at the sample (inbox
// rows not yet processed, deliveries pending) and what PostgreSQL's busy
// client backends were waiting on (a stall with less CPU is a wait).
func (w *world) cpuTimeline(ctx context.Context) func() string {
	i := 0
	prod0, pg0 := w.cpu()
	harness0 := w.harnessCPU()
	lines := w.sample(ctx, "PB_LOAD_CPU_TIMELINE", time.Second, func(ctx context.Context, pool *pgxpool.Pool) (string, error) {
		var passes, inbox, pending int
		var waits string
		if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM engine_tenants WHERE updated_at > now() - interval '1 second'),
			(SELECT count(*) FROM inbox), (SELECT count(*) FROM deliveries WHERE status = 'pending'),
			coalesce((SELECT string_agg(w || ' ' || n, ', ' ORDER BY n DESC, w) FROM (
				SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS w, count(*) AS n FROM pg_stat_activity
				WHERE backend_type = 'client backend' AND state = 'active' AND pid <> pg_backend_pid() GROUP BY 1) x), '-')`).
			Scan(&passes, &inbox, &pending, &waits); err != nil {
			return "", err
		}
		prod, pg := w.cpu()
		harness := w.harnessCPU()
		line := fmt.Sprintf("%6d %8.2f %9.2f %8.2f %7d %6d %8d  %s", i, (prod - prod0).Seconds(), (pg - pg0).Seconds(), (harness - harness0).Seconds(), passes, inbox, pending, waits)
		prod0, pg0, harness0 = prod, pg, harness
		i++
		return line, nil
	})
	return func() string {
		if s := lines(); s != "" {
			return "second  product  postgres  harness  passes  inbox  pending  PostgreSQL's client backends at the sample (wait or CPU, count)\n" + s
		}
		return ""
	}
}

// settle waits, at most most, until PostgreSQL is done with the upkeep
// the writes before it left — no autovacuum running and none due (no
// table 10,000 rows or more past its autovacuum thresholds of dead or
// inserted rows; small busy tables such as the job queue's are always
// due again) — and has stayed so for 5 s in a row, then ends the
// checkpoint under way with CHECKPOINT, as one does before measuring a
// database: the checkpoint the earlier writes began would otherwise be
// spread over the next minutes and sync their pages in the phase. It
// says what it waited for and how long.
func (w *world) settle(ctx context.Context, most time.Duration) Settling {
	pool, err := pgxpool.New(ctx, w.pg.DirectDSN())
	if err != nil {
		w.t.Fatal(err)
	}
	defer pool.Close()
	began := time.Now()
	tables := map[string]bool{} // vacuumed, or due and waited for
	quiet := 0
	for quiet < 5 && time.Since(began) < most {
		b, err := readBackground(ctx, pool)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, list := range []string{b.vacuumed, b.due} {
			for name := range strings.SplitSeq(list, ", ") {
				if name != "" {
					tables[name] = true
				}
			}
		}
		if quiet++; b.vacuumed != "" || b.due != "" {
			quiet = 0
		}
		time.Sleep(time.Second)
	}
	st := Settling{Quiet: quiet >= 5}
	if len(tables) > 0 {
		st.For = append(st.For, "autovacuum of "+strings.Join(slices.Sorted(maps.Keys(tables)), ", "))
	}
	at := time.Now()
	if _, err := pool.Exec(ctx, "CHECKPOINT"); err != nil {
		w.t.Fatal(err)
	}
	st.For = append(st.For, "then a CHECKPOINT, "+secs(time.Since(at)))
	st.Waited = time.Since(began)
	w.t.Logf("settled after %s (at most %s; quiet for 5 s: %v): %s", secs(st.Waited), secs(most), st.Quiet, cmpOr(strings.Join(st.For, "; "), "nothing ran"))
	return st
}

// background is what PostgreSQL does of its own at one moment.
type background struct {
	vacuums      string // autovacuum's tables with their phases ("" none)
	vacuumed     string // the same tables alone
	checkpointer string // its wait events ("" when not running)
	checkpoints  int64  // begun since the server started
	wal, fpi     int64  // WAL written (bytes) and full-page images in it, since the server started
	due          string // tables 10,000 rows or more past their autovacuum thresholds, not being vacuumed ("" none)
}

// relName names the relation c in background's words: a TOAST table by
// the table it holds the long values of ("subscriptions' TOAST"), not by
// its number.
const relName = `coalesce((SELECT m.relname || '''s TOAST' FROM pg_class m WHERE m.reltoastrelid = c.oid), c.relname)`

func readBackground(ctx context.Context, pool *pgxpool.Pool) (background, error) {
	var b background
	err := pool.QueryRow(ctx, `SELECT
		coalesce((SELECT string_agg(`+relName+` || ' (' || v.phase || ')', ', ' ORDER BY c.relname)
			FROM pg_stat_progress_vacuum v JOIN pg_class c ON c.oid = v.relid), ''),
		coalesce((SELECT string_agg(`+relName+`, ', ' ORDER BY c.relname)
			FROM pg_stat_progress_vacuum v JOIN pg_class c ON c.oid = v.relid), ''),
		coalesce((SELECT string_agg(coalesce(wait_event, 'on CPU'), ', ') FROM pg_stat_activity
			WHERE backend_type = 'checkpointer'), ''),
		(SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter),
		pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, (SELECT wal_fpi FROM pg_stat_wal),
		-- autovacuum's own test (the server's thresholds; no table of ours
		-- sets its own): dead rows, or rows inserted since the last vacuum,
		-- 10,000 past the bound (a busy small table is due again at once).
		coalesce((SELECT string_agg(`+relName+`, ', ' ORDER BY c.relname) FROM pg_stat_all_tables s JOIN pg_class c ON c.oid = s.relid
			WHERE s.schemaname IN ('public', 'pg_toast') AND s.relid NOT IN (SELECT relid FROM pg_stat_progress_vacuum)
			AND (s.n_dead_tup > 10000 + current_setting('autovacuum_vacuum_threshold')::float8
					+ current_setting('autovacuum_vacuum_scale_factor')::float8 * greatest(c.reltuples, 0)
				OR s.n_ins_since_vacuum > 10000 + current_setting('autovacuum_vacuum_insert_threshold')::float8
					+ current_setting('autovacuum_vacuum_insert_scale_factor')::float8 * greatest(c.reltuples, 0))), '')`).
		Scan(&b.vacuums, &b.vacuumed, &b.checkpointer, &b.checkpoints, &b.wal, &b.fpi, &b.due)
	return b, err
}

// sample, when the knob env is 1, calls row every interval on a
// connection of its own until the returned function is called, which
// gives the rows it made, a line each ("" rows are left out, an error is
// its line); off, it samples nothing and gives "". Its queries are
// PostgreSQL CPU counted in what it samples beside: leave it off when
// measuring that.
func (w *world) sample(ctx context.Context, env string, every time.Duration, row func(context.Context, *pgxpool.Pool) (string, error)) func() string {
	if os.Getenv(env) != "1" {
		return func() string { return "" }
	}
	pool, err := pgxpool.New(ctx, w.pg.DirectDSN())
	if err != nil {
		w.t.Fatal(err)
	}
	stop, done := make(chan struct{}), make(chan string)
	go func() {
		defer pool.Close()
		var b strings.Builder
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			switch line, err := row(ctx, pool); {
			case err != nil:
				fmt.Fprintf(&b, "%v\n", err)
			case line != "":
				b.WriteString(line + "\n")
			}
			select {
			case <-stop:
				done <- b.String()
				return
			case <-tick.C:
			}
		}
	}()
	return func() string { close(stop); return <-done }
}
