//go:build loadbench

package loadbench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestLoadRepair is make bench-load's repair alone, for finding where a
// repaired user's CPU goes (issue 16): the same world and cold start as
// TestLoad (PB_LOAD_TENANTS, PB_LOAD_USERS, PB_LOAD_REPAIR_USERS), then
// PB_LOAD_REPAIR_ROUNDS repairs (default 1) with serve and, unless
// PB_LOAD_REPAIR_SPLIT=0, as many with web and two workers. Each round's
// figures are logged, with CPU per repaired user; with
// PB_LOAD_REPAIR_PROFILE=N the first serve round takes an N-second CPU
// profile of serve from the moment its admin listener answers (its file
// and top functions are logged). PB_LOAD_REPAIR_USERS may be every user:
// the repair waits for the changed people a subscription covers, not the
// monitor accounts a bulk change reaches too (graphsim's Covered). With
// PB_LOAD_STATEMENTS=1 each round's top statements are logged, with
// PB_LOAD_REPAIR_TIMELINE=1 its progress (repairTimeline). Run it
// with
//
//	PB_LOAD_TENANTS=100 PB_LOAD_USERS=100000 PB_LOAD_REPAIR_USERS=100000 \
//	go test -tags 'openssl loadbench' -run TestLoadRepair -v -timeout 60m ./internal/loadbench
func TestLoadRepair(t *testing.T) {
	s := loadSettings()
	ctx := context.Background()
	r := &Report{}
	w := newWorld(t, s, r)
	t.Cleanup(w.stopAll)
	w.onboard(ctx, 6)
	var run Run
	w.coldStart(ctx, &run, "serve")
	// Each round moves the same users to a state the round before did not
	// give them, and none of the cold start's (Offline) or the latency
	// phases' (nonTalking): the receiver tells a changed user by it.
	states := [][2]string{{"BeRightBack", "BeRightBack"}, {"Busy", "InAMeeting"}}
	rounds := envInt("PB_LOAD_REPAIR_ROUNDS", 1)
	arrangements := []struct {
		roles []string
		name  string
	}{{[]string{"serve"}, "serve"}, {[]string{"web", "worker-1", "worker-2"}, "web + 2 workers"}}
	if os.Getenv("PB_LOAD_REPAIR_SPLIT") == "0" {
		arrangements = arrangements[:1]
	}
	running := []string{"serve"}
	n := 0
	for _, a := range arrangements {
		for i := range rounds {
			var profiled chan string
			if secs := envInt("PB_LOAD_REPAIR_PROFILE", 0); secs > 0 && n == 0 {
				profiled = make(chan string, 1)
				go func() { profiled <- w.profileOnceUp("serve", time.Duration(secs)*time.Second) }()
			}
			statements := w.statements(ctx, 15)
			deliveriesIO := func() string { return "" }
			if statementsOn() {
				t.Logf("before repair %d with %s: %s", i+1, a.name, w.deliveriesVacuum(ctx))
				deliveriesIO = w.deliveriesIO(ctx)
			}
			snapshots := w.oldSnapshots(ctx)
			timeline := w.repairTimeline(ctx)
			rep := w.repair(ctx, states[n%len(states)], running, a.roles)
			if tl := timeline(); tl != "" {
				t.Logf("repair %d with %s, seconds from the first repaired event: events made, webhooks received\n%s", i+1, a.name, tl)
			}
			running = a.roles
			n++
			perUser := func(d time.Duration) string {
				if rep.Repaired == 0 {
					return "-"
				}
				return fmt.Sprintf("%.3f ms", float64(d.Microseconds())/1000/float64(rep.Repaired))
			}
			t.Logf("repair %d with %s: %d of %d changed users repaired in %s; CPU product %s (%s per repaired user), PostgreSQL %s (%s), graphsim and harness %s; load %s",
				i+1, a.name, rep.Repaired, rep.Changed, rep.Took.Round(100*time.Millisecond), rep.ProductCPU.Round(100*time.Millisecond),
				perUser(rep.ProductCPU), rep.PostgresCPU.Round(100*time.Millisecond), perUser(rep.PostgresCPU), rep.HarnessCPU.Round(100*time.Millisecond), rep.Load)
			if top := statements(); top != "" {
				t.Logf("statements of repair %d with %s, by execution time:\n%s", i+1, a.name, top)
			}
			if io := deliveriesIO(); io != "" {
				t.Logf("deliveries during repair %d with %s: %s", i+1, a.name, io)
			}
			if old := snapshots(); old != "" {
				t.Logf("old snapshots during repair %d with %s (seconds from its start):\n%s", i+1, a.name, old)
			}
			if profiled != nil {
				t.Logf("serve during the repair: %s", profileTop(<-profiled))
			}
			if !rep.All {
				t.Errorf("repair %d with %s: %d of %d changed users repaired", i+1, a.name, rep.Repaired, rep.Changed)
			}
		}
	}
}

// profileOnceUp waits for the role called name to be started anew (not
// the process running now, if any) and its admin listener to answer, then
// takes a CPU profile of it for d (w.profile).
func (w *world) profileOnceUp(name string, d time.Duration) string {
	w.procMu.Lock()
	old := w.procs[name]
	w.procMu.Unlock()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		w.procMu.Lock()
		p := w.procs[name]
		admin := w.admin[name]
		w.procMu.Unlock()
		if p != nil && p != old {
			if resp, err := http.Get("http://" + admin + "/debug/pprof/"); err == nil {
				resp.Body.Close()
				return w.profile(name, d)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "no profile: " + name + " did not start"
}

// repairTimeline, with PB_LOAD_REPAIR_TIMELINE=1, samples every 500 ms
// how many repair events the engine has made and how many webhooks have
// reached the receiver since it was called, until the function it
// returns is called, which gives the samples: the engine's progress
// beside the deliverer's says which paces a repair. It reads only what is
// new: the events after the newest it has seen, by their key (one
// committed after a newer one was seen is missed: a timeline, not a
// tally), and the receiver's own count. Counting both in PostgreSQL since
// the start (events by created_at, deliveries by delivered_at) read every
// event and delivery at each sample: 62.6 s of PostgreSQL's time in a
// round of 1 min 08 s at a million users (2026-12-04), more than the
// repair's own statements.
func (w *world) repairTimeline(ctx context.Context) func() string {
	webhooks0 := w.webhooks.Load()
	var after, events int64 = -1, 0
	var first time.Time
	return w.sample(ctx, "PB_LOAD_REPAIR_TIMELINE", 500*time.Millisecond, func(ctx context.Context, pool *pgxpool.Pool) (string, error) {
		if after < 0 { // the newest event before the repair
			var err error
			if after, err = newestEvent(ctx, pool); err != nil {
				return "", err
			}
		}
		var n, last int64
		if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE source = 'repair'), coalesce(max(id), $1) FROM presence_events WHERE id > $1`,
			after).Scan(&n, &last); err != nil {
			return "", err
		}
		events, after = events+n, last
		if events == 0 {
			return "", nil
		}
		if first.IsZero() {
			first = time.Now()
		}
		return fmt.Sprintf("%6.1f %8d %8d", time.Since(first).Seconds(), events, w.webhooks.Load()-webhooks0), nil
	})
}

// deliveriesVacuum says how far deliveries is from its last vacuum: its
// live and dead row versions, when autovacuum last ran on it and how
// often, and the size of the index every claim's sample walks
// (deliveries_due_idx), whose entries for claimed and recorded deliveries
// only a vacuum removes.
func (w *world) deliveriesVacuum(ctx context.Context) string {
	var live, dead, vacuums int64
	var last *time.Time
	var idx int64
	err := w.st.Pool().QueryRow(ctx, `SELECT n_live_tup, n_dead_tup, last_autovacuum, autovacuum_count,
		pg_relation_size('deliveries_due_idx') FROM pg_stat_user_tables WHERE relname = 'deliveries'`).Scan(&live, &dead, &last, &vacuums, &idx)
	if err != nil {
		return fmt.Sprintf("deliveries' vacuum: %v", err)
	}
	ago := "never"
	if last != nil {
		ago = time.Since(*last).Round(time.Second).String() + " ago"
	}
	return fmt.Sprintf("deliveries %d live, %d dead row versions; last autovacuum %s (%d in all); deliveries_due_idx %d KiB", live, dead, ago, vacuums, idx>>10)
}

// deliveriesIO reads, from PostgreSQL's statistics, the deliveries'
// updates so far, how many were heap-only, and the blocks and index
// entries each of its indexes has been read for; the function it returns
// reads them again and says what changed, indexes by blocks, most first.
// It tells which index a slow round's claims read (the same code's repair
// took 28–40 s, and once its claims read 2.5 times the buffers: BENCHMARKS.md,
// 2026-12-05). PostgreSQL counts a backend's reads when it reports them,
// at the end of a transaction at most once a second (10 s when idle), so
// the function waits 1.5 s first and the figures are near, not exact.
func (w *world) deliveriesIO(ctx context.Context) func() string {
	type reads struct{ blocks, tuples int64 }
	read := func() (updates, hot int64, idx map[string]reads, err error) {
		pool := w.st.Pool()
		if err = pool.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'deliveries'`).Scan(&updates, &hot); err != nil {
			return
		}
		rows, err := pool.Query(ctx, `SELECT s.indexrelname, io.idx_blks_hit + io.idx_blks_read, s.idx_tup_read
			FROM pg_stat_user_indexes s JOIN pg_statio_user_indexes io USING (indexrelid) WHERE s.relname = 'deliveries'`)
		if err != nil {
			return
		}
		idx = map[string]reads{}
		var name string
		var r reads
		_, err = pgx.ForEachRow(rows, []any{&name, &r.blocks, &r.tuples}, func() error { idx[name] = r; return nil })
		return
	}
	u0, h0, i0, err0 := read()
	return func() string {
		time.Sleep(1500 * time.Millisecond)
		u1, h1, i1, err := read()
		if err = cmp.Or(err0, err); err != nil {
			return fmt.Sprintf("deliveries' statistics: %v", err)
		}
		names := slices.Collect(maps.Keys(i1))
		slices.SortFunc(names, func(a, b string) int { return cmp.Compare(i1[b].blocks-i0[b].blocks, i1[a].blocks-i0[a].blocks) })
		var b strings.Builder
		fmt.Fprintf(&b, "%d updates, %d heap-only; index blocks read (entries read):", u1-u0, h1-h0)
		for _, n := range names {
			fmt.Fprintf(&b, " %s %d (%d);", n, i1[n].blocks-i0[n].blocks, i1[n].tuples-i0[n].tuples)
		}
		return strings.TrimSuffix(b.String(), ";")
	}
}

// oldSnapshots, with PB_LOAD_STATEMENTS=1, reads every 500 ms which
// backend holds the oldest snapshot, until the function it returns is
// called, which gives a line each time one at least 1,000 transactions
// old is seen from a new backend or twice as old as the last line said.
// A client's old snapshot would keep PostgreSQL from marking delivered
// deliveries' index entries dead and from pruning their pages, so that
// every claim steps over them again; a vacuum's does not (procarray.c
// leaves PROC_IN_VACUUM backends out of that horizon), but a vacuum takes
// CPU from a repair that is bound by it. One slow repair had a snapshot
// held through it, 6,268 to 15,894 transactions old, from a backend not
// recorded then; the next time it was autovacuum's VACUUM of
// directory_users, whose million rows the cold start rewrites
// (BENCHMARKS.md, 2026-12-05).
func (w *world) oldSnapshots(ctx context.Context) func() string {
	start := time.Now()
	var pid int32
	var shown int64
	return w.sample(ctx, "PB_LOAD_STATEMENTS", 500*time.Millisecond, func(ctx context.Context, pool *pgxpool.Pool) (string, error) {
		var p int32
		var age int64
		var kind, state, query string
		var open float64 // seconds in its transaction
		err := pool.QueryRow(ctx, `SELECT pid, age(backend_xmin), backend_type, coalesce(state, ''),
				coalesce(extract(epoch FROM clock_timestamp() - xact_start), 0)::float8, left(regexp_replace(query, '\s+', ' ', 'g'), 100)
			FROM pg_stat_activity WHERE backend_xmin IS NOT NULL AND pid <> pg_backend_pid()
			ORDER BY age(backend_xmin) DESC LIMIT 1`).Scan(&p, &age, &kind, &state, &open, &query)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return "", nil
		case err != nil:
			return "", err
		case age < 1000 || (p == pid && age < 2*shown):
			return "", nil
		}
		pid, shown = p, age
		return fmt.Sprintf("%6.1f  %d transactions old, pid %d, %s, %s, in its transaction for %.1f s: %s", time.Since(start).Seconds(), age, p,
			kind, state, open, query), nil
	})
}
