package loadbench

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/store"
)

// Report is what a load run measured, written into BENCHMARKS.md between
// its markers.
type Report struct {
	Started, Finished     time.Time
	Machine, Commit       string
	Unwrap                float64 // notifications one core decrypts a second (UnwrapRate); 0: not measured
	Cores                 int     // the machine's
	Command, Settings     string
	LoadBefore, LoadAfter string
	Setup                 []Step
	Tenants, Users        int
	Monitors              int // monitor accounts onboarded
	MinSubscriptions      int // the fewest subscriptions the users fit in
	Runs                  []Run
	Tables                []store.TableSize
	// Reference is the intake's ratio to the minimal reference receiver
	// (make bench-intake-ratio's lines), or why it was not measured;
	// Renewals the same for the engine's renewals over simulated time.
	Reference, Renewals string
	// Timeline is where the run's wall time went, part by part, from the
	// build to the last figure (Timeline.Steps).
	Timeline []Step
}

// Step is one timed part of the setup or of the run.
type Step struct {
	What string
	Took time.Duration
}

// Timeline notes the parts of a run as they end, each with how long it
// took since the part before ended: the run's log prints them, and the
// report sums them, so the ten minutes make bench-load may take
// (issue 16) are accounted for part by part.
type Timeline struct {
	began, last time.Time
	Steps       []Step
}

// NewTimeline starts a timeline at now.
func NewTimeline(now time.Time) *Timeline { return &Timeline{began: now, last: now} }

// Mark ends a part at now and says so: "at 4 min 12 s: cold start (3 min
// 34 s)".
func (tl *Timeline) Mark(now time.Time, what string) string {
	s := Step{What: what, Took: now.Sub(tl.last)}
	tl.last = now
	tl.Steps = append(tl.Steps, s)
	return fmt.Sprintf("at %s: %s (%s)", secs(now.Sub(tl.began)), what, secs(s.Took))
}

// Total is the time from the start to the last mark.
func (tl *Timeline) Total() time.Duration { return tl.last.Sub(tl.began) }

// Run is the product in one arrangement of roles.
type Run struct {
	Roles string
	// Cold is set when the run began from no subscription: Ready is the
	// processes started and ready, Subscribed graphsim's subscriptions
	// covering every user (SubscribedAll false: not within the bound),
	// FirstStates every user's first state at the receiver.
	Cold            bool
	Ready           time.Duration
	Subscribed      time.Duration
	SubscribedAll   bool
	Coverage        graphsim.Coverage
	Throttled       map[string]int64
	FirstStates     time.Duration
	FirstStatesBy   string // what marked them in
	FirstStatesAll  bool
	FirstStatesSeen int
	Webhooks        time.Duration // the webhooks added through the API after them, when not at onboarding
	Phases          []Phase
	Repair          Repair
	Memory          []ProcMemory
	// Lifecycle is what Graph counted while the run's product ran, in
	// real time: its renewals and the subscriptions that lapsed.
	Lifecycle Lifecycle
}

// Lifecycle is graphsim's count of renewals and lapsed subscriptions over
// Lived, the time between two looks at its coverage.
type Lifecycle struct {
	Renewed, Lapsed int64
	Lived           time.Duration
}

// Phase is one latency phase: changes at Rate for Driven.
type Phase struct {
	Rate                 float64
	Driven               time.Duration
	Notifications, Acked int // Graph's journal: made, acknowledged
	Delivered, Matched   int // webhooks; those matched to their notification
	P50, P99             time.Duration
	AckP50, AckP99       time.Duration
	IntakeRate           float64 // acknowledged notifications a second, first POST to last ack
	ProductCPU           time.Duration
	PostgresCPU          time.Duration
	// Autovacuum is the CPU of PostgreSQL's autovacuum workers in the
	// phase, at least (a worker that ended in it is not told apart):
	// right after the cold start, its cleanup of the rows the cold start
	// wrote, which the phase's figures then carry.
	Autovacuum time.Duration
	HarnessCPU time.Duration // graphsim's and this harness's (the receiver's): on the same cores, not the product's
	Load       string
	Profile    string // go tool pprof -top of a role during the phase, when taken
	Timeline   string // latencies by the second of their POST (logged with PB_LOAD_LATENCY_TIMELINE=1)
	// Graph's penalties during the phase (graphsim's stats): notifications
	// it dropped, and whether it held an endpoint slow (delaying what it
	// sends) or dropping at the phase's end — as Graph treats an endpoint
	// whose answers take over 3 s (10 s) — which the figures then carry.
	Dropped          int64
	SlowEnd, DropEnd int
	// Settled, when set, is the wait for PostgreSQL's upkeep before the
	// phase: the phase then measures the steady flow, not the aftermath
	// of what came before it.
	Settled *Settling
}

// Settling is a wait for PostgreSQL to be done with the upkeep of earlier
// writes (autovacuum, a checkpoint): how long, for what, and whether it
// ended quiet or at its bound.
type Settling struct {
	Waited time.Duration
	For    []string
	Quiet  bool
}

// String says it in a report's words.
func (st Settling) String() string {
	s := fmt.Sprintf("after %s waiting for PostgreSQL's upkeep of the writes before (%s)", secs(st.Waited), cmp.Or(strings.Join(st.For, "; "), "nothing ran"))
	if !st.Quiet {
		s += ", **still under way when the wait's bound came**"
	}
	return s
}

// Repair is the gap: Users changed while notifications were dropped and
// the presence roles stopped; Took from their start to the receiver
// holding every one's new state.
type Repair struct {
	Users, Changed, Repaired int
	Took                     time.Duration
	All                      bool
	ProductCPU, PostgresCPU  time.Duration
	HarnessCPU               time.Duration // graphsim's and this harness's, as a phase's
	Load                     string
}

// ProcMemory is one process's memory at the end of a run.
type ProcMemory struct {
	Name string
	Memory
}

// Percentile is the p-th percentile (nearest rank) of ds; 0 for none.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// historyTables grow with time rather than with users: events, their
// deliveries, Graph's POSTs, audit and activity records, mail, jobs.
func historyTable(name string) bool {
	switch name {
	case "presence_events", "deliveries", "inbox", "inbox_quarantine", "subscription_events", "audit_log",
		"mail_log", "captured_mail", "idempotency_keys", "api_operations":
		return true
	}
	return strings.HasPrefix(name, "activity_") || strings.HasPrefix(name, "river_")
}

const (
	startMarker = "<!-- bench-load:start (written by make bench-load; edits between the markers are replaced) -->"
	endMarker   = "<!-- bench-load:end -->"
)

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func secs(d time.Duration) string {
	if d >= time.Minute {
		return fmt.Sprintf("%d min %02d s", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func gib(b int64) string { return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30)) }
func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// verdict says whether got met the bound (lower is better).
func verdict(got, bound float64, unit string) string {
	if got <= bound {
		return "met"
	}
	return fmt.Sprintf("**missed**: %.3g %s over", got-bound, unit)
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Markdown is the report as BENCHMARKS.md's section, markers included.
func (r *Report) Markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("%s\n", startMarker)
	unwrap := ""
	if r.Unwrap > 0 {
		unwrap = fmt.Sprintf("; one core decrypts %s notifications a second here (the product's decryption, a 2,048-bit RSA-OAEP unwrap each; %d cores: at most about %s a second with nothing else running)",
			thousands(int(r.Unwrap)), r.Cores, thousands(int(r.Unwrap)*r.Cores))
	}
	p("Run %s–%s UTC at commit %s: `%s` (%s). Machine: %s%s. Load average before %s, after %s.\n\n",
		r.Started.Format("2006-01-02 15:04"), r.Finished.Format("15:04"), r.Commit, r.Command, r.Settings, r.Machine, unwrap, r.LoadBefore, r.LoadAfter)
	p("Setup (timed, not a target): ")
	for i, s := range r.Setup {
		if i > 0 {
			p("; ")
		}
		p("%s %s", s.What, secs(s.Took))
	}
	p(". %s tenants, %s users, %s monitor accounts (onboarding asks one spare per tenant), the users fitting in %s subscriptions at 650 each.\n\n",
		thousands(r.Tenants), thousands(r.Users), thousands(r.Monitors), thousands(r.MinSubscriptions))
	if len(r.Timeline) > 0 {
		var total time.Duration
		p("Where the run's wall time went (not a target; ≤ 10 min asked of the default): ")
		for i, s := range r.Timeline {
			if i > 0 {
				p("; ")
			}
			total += s.Took
			p("%s %s", s.What, secs(s.Took))
		}
		p(" — %s in all.\n\n", secs(total))
	}
	p("| What | Target |")
	for _, run := range r.Runs {
		p(" %s |", run.Roles)
	}
	p("\n|---|---|")
	for range r.Runs {
		p("---|")
	}
	p("\n")
	row := func(what, target string, cell func(Run) string) {
		p("| %s | %s |", what, target)
		for _, run := range r.Runs {
			p(" %s |", cell(run))
		}
		p("\n")
	}
	row(fmt.Sprintf("Cold start to %s users subscribed (graphsim's subscriptions covering every user)", thousands(r.Users)), "≤ 5 min, within Graph's budgets",
		func(run Run) string {
			if !run.Cold {
				return "— (subscriptions kept from the first run)"
			}
			s := fmt.Sprintf("%s (%s users covered by %s subscriptions; processes ready after %s; Graph throttled %s) — %s",
				secs(run.Subscribed), thousands(run.Coverage.Users), thousands(run.Coverage.Subscriptions), secs(run.Ready), throttled(run.Throttled),
				verdict(run.Subscribed.Minutes(), 5, "min"))
			if !run.SubscribedAll {
				s += ", **not every user covered when the run gave up**"
			}
			return s
		})
	row("Every user's first state after the cold start", "—", func(run Run) string {
		if !run.Cold {
			return "—"
		}
		s := fmt.Sprintf("%s from the start: %s", secs(run.FirstStates), run.FirstStatesBy)
		if run.Webhooks > 0 {
			s += fmt.Sprintf("; then %s tenants' webhooks added through the tenant API in %s", thousands(r.Tenants), secs(run.Webhooks))
		}
		if !run.FirstStatesAll {
			s += fmt.Sprintf(", **only %s of %s when the run gave up**", thousands(run.FirstStatesSeen), thousands(r.Users))
		}
		return s
	})
	row("Repair after a gap (notifications dropped and the presence roles stopped while users changed; from their start to every changed user's new state at the receiver)", "≤ 30 s for 100,000 users",
		func(run Run) string {
			rp := run.Repair
			s := fmt.Sprintf("%s for %s users changed (%s repaired; %s CPU product, %s PostgreSQL, %s graphsim and harness; load %s) — %s",
				secs(rp.Took), thousands(rp.Changed), thousands(rp.Repaired), secs(rp.ProductCPU), secs(rp.PostgresCPU), secs(rp.HarnessCPU), rp.Load,
				verdict(rp.Took.Seconds(), 30, "s"))
			if !rp.All {
				s += ", **not every user repaired when the run gave up**"
			}
			return s
		})
	// One row per rate, each run's phase of that rate in its column (the
	// second run drives only the highest), and one more for a rate driven
	// again once PostgreSQL had settled (Phase.Settled).
	type phaseKey struct {
		rate    float64
		settled bool
	}
	var keys []phaseKey
	for _, run := range r.Runs {
		for _, ph := range run.Phases {
			if k := (phaseKey{ph.Rate, ph.Settled != nil}); !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	slices.SortFunc(keys, func(a, b phaseKey) int {
		if c := cmp.Compare(a.rate, b.rate); c != 0 {
			return c
		}
		return cmp.Compare(b2i(a.settled), b2i(b.settled))
	})
	phaseAt := func(run Run, k phaseKey) (Phase, bool) {
		for _, ph := range run.Phases {
			if (phaseKey{ph.Rate, ph.Settled != nil}) == k {
				return ph, true
			}
		}
		return Phase{}, false
	}
	for _, k := range keys {
		rate := k.rate
		bound := 100 * time.Millisecond
		if rate > 1000 {
			bound = 250 * time.Millisecond
		}
		at := thousands(int(rate)) + " changes/s"
		if k.settled {
			at += ", steady (once PostgreSQL's upkeep of the writes before it was over)"
		}
		row(fmt.Sprintf("Latency, Graph's POST → webhook at the receiver, %s", at), fmt.Sprintf("p99 ≤ %s", ms(bound)), func(run Run) string {
			ph, ok := phaseAt(run, k)
			if !ok {
				return "—"
			}
			offered := ""
			if ph.Driven > 0 {
				offered = fmt.Sprintf(", Graph made %.0f/s", float64(ph.Notifications)/ph.Driven.Seconds())
			}
			penalty := ""
			if ph.Dropped > 0 || ph.SlowEnd > 0 || ph.DropEnd > 0 {
				penalty = fmt.Sprintf("; **Graph penalised the product's endpoint**: %s notifications dropped, endpoints slow %d, dropping %d at the end", thousands(int(ph.Dropped)), ph.SlowEnd, ph.DropEnd)
			}
			vacuum := ""
			if ph.Autovacuum > 0 {
				vacuum = fmt.Sprintf("; beside PostgreSQL's autovacuum, %s of its CPU", secs(ph.Autovacuum))
			}
			settled := ""
			if ph.Settled != nil {
				settled = "; " + ph.Settled.String()
			}
			return fmt.Sprintf("p50 %s, p99 %s (%s webhooks matched of %s notifications acknowledged, over %s%s; load %s%s%s%s) — %s", ms(ph.P50), ms(ph.P99),
				thousands(ph.Matched), thousands(ph.Acked), secs(ph.Driven), offered, ph.Load, vacuum, settled, penalty, verdict(float64(ph.P99)/float64(time.Millisecond), float64(bound)/float64(time.Millisecond), "ms"))
		})
		row(fmt.Sprintf("Durable intake at %s: acknowledged notifications a second, and the acknowledgement's latency (graphsim's side)", at), "—", func(run Run) string {
			ph, ok := phaseAt(run, k)
			if !ok {
				return "—"
			}
			return fmt.Sprintf("%.0f/s; ack p50 %s, p99 %s", ph.IntakeRate, ms(ph.AckP50), ms(ph.AckP99))
		})
		row(fmt.Sprintf("CPU per 1,000 notifications at %s (product processes; PostgreSQL's backends; graphsim and this harness's receiver, on the same cores)", at), "—", func(run Run) string {
			ph, ok := phaseAt(run, k)
			if !ok || ph.Acked == 0 {
				return "—"
			}
			n := float64(ph.Acked) / 1000
			return fmt.Sprintf("%.2f s; %.2f s; %.2f s", ph.ProductCPU.Seconds()/n, ph.PostgresCPU.Seconds()/n, ph.HarnessCPU.Seconds()/n)
		})
	}
	row("Peak RSS (VmHWM) of each process", "≤ 1 GiB per process", func(run Run) string {
		var parts []string
		worst := int64(0)
		for _, m := range run.Memory {
			parts = append(parts, fmt.Sprintf("%s %s", m.Name, mib(m.Peak)))
			// The target is the deployment's: our processes and PostgreSQL.
			// graphsim stands in for Microsoft and the harness for the
			// platform and its load; their figures are shown, not judged.
			if !strings.HasPrefix(m.Name, "this harness") && !strings.HasPrefix(m.Name, "graphsim") {
				worst = max(worst, m.Peak)
			}
		}
		return strings.Join(parts, ", ") + " — the product and PostgreSQL " + verdict(float64(worst)/(1<<30), 1, "GiB")
	})
	var total, history int64
	var big []string
	for _, t := range r.Tables {
		total += t.Bytes
		if historyTable(t.Table) {
			history += t.Bytes
		} else if len(big) < 4 {
			big = append(big, fmt.Sprintf("%s %s", t.Table, mib(t.Bytes)))
		}
	}
	if total > 0 && r.Users > 0 {
		state := total - history
		p("| PostgreSQL's size excluding history (events, deliveries, inbox, audit, activity, jobs), after the first run | ≤ 2 GiB | %s, %s per 100,000 users (largest: %s; history %s) — %s |",
			gib(state), mib(state*100_000/int64(r.Users)), strings.Join(big, ", "), mib(history), verdict(float64(state)/(1<<30), 2, "GiB"))
		for range r.Runs[1:] {
			p(" |")
		}
		p("\n")
	}
	row("Subscriptions renewed and lapsed while the product ran (graphsim's counts, in real time)", "0 expired", func(run Run) string {
		lc := run.Lifecycle
		s := fmt.Sprintf("%s renewed, %s lapsed in %s", thousands(int(lc.Renewed)), thousands(int(lc.Lapsed)), secs(lc.Lived))
		if lc.Lapsed > 0 {
			return s + " — **missed**"
		}
		return s + " — met"
	})
	p("| Renewals per minute over an hour of simulated time | 0 expired; max/mean ≤ 2 | %s |", r.Renewals)
	for range r.Runs[1:] {
		p(" |")
	}
	p("\n| Intake as a ratio of the minimal reference receiver, same run | ≥ 0.90 | %s |", r.Reference)
	for range r.Runs[1:] {
		p(" |")
	}
	for _, run := range r.Runs {
		for _, ph := range run.Phases {
			if ph.Profile != "" {
				p("\n\nWhere %s's CPU went at %s changes/s (a CPU profile from its admin listener's /debug/pprof during the phase):\n\n```\n%s\n```",
					run.Roles, thousands(int(ph.Rate)), strings.TrimSpace(ph.Profile))
			}
		}
	}
	p("\n\n%s\n", endMarker)
	return b.String()
}

func throttled(m map[string]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ") + " requests"
}

// WriteSection puts md (markers included) into the file at path: in place
// of the section between the markers, or before "## Method" the first
// time.
func WriteSection(path, md string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	start, end := strings.Index(s, startMarker), strings.Index(s, endMarker)
	switch {
	case start >= 0 && end > start:
		s = s[:start] + strings.TrimSuffix(md, "\n") + s[end+len(endMarker):]
	default:
		head := "## Load: the whole system at a million users (make bench-load, issue 16)\n\n"
		if i := strings.Index(s, "\n## Method"); i >= 0 {
			s = s[:i+1] + head + md + "\n" + s[i+1:]
		} else {
			s += "\n" + head + md
		}
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
