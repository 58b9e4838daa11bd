//go:build loadbench

package loadbench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

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
			if statementsOn() {
				t.Logf("before repair %d with %s: %s", i+1, a.name, w.deliveriesVacuum(ctx))
			}
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
