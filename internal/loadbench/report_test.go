package loadbench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/store"
)

func sampleReport() *Report {
	return &Report{Started: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), Finished: time.Date(2026, 12, 2, 10, 9, 0, 0, time.UTC),
		Machine: "AMD EPYC, 2 cores, 24 GiB RAM", Unwrap: 992.4, Cores: 2, Commit: "abc1234", Command: "make bench-load", Users: 1_000_000, Tenants: 1000,
		Runs: []Run{{Roles: "serve", Cold: true, Subscribed: 7 * time.Minute, SubscribedAll: true, Coverage: graphsim.Coverage{Subscriptions: 2540, Users: 1_000_000},
			Phases: []Phase{{Rate: 1000, P50: 20 * time.Millisecond, P99: 80 * time.Millisecond, Acked: 20000, Notifications: 20000, Driven: 20 * time.Second,
				ProductCPU: 16 * time.Second, PostgresCPU: 13 * time.Second, HarnessCPU: 6 * time.Second, Autovacuum: 1900 * time.Millisecond},
				{Rate: 5000, P50: 90 * time.Millisecond, P99: 400 * time.Millisecond, Acked: 100000}},
			Repair:    Repair{Changed: 100_000, Took: 20 * time.Second, All: true, HarnessCPU: 7 * time.Second},
			Memory:    []ProcMemory{{"serve", Memory{Peak: 2 << 30}}},
			Lifecycle: Lifecycle{Renewed: 1210, Lived: 35 * time.Minute}},
			{Roles: "web + 2 workers", Phases: []Phase{{Rate: 5000, P50: 60 * time.Millisecond, P99: 200 * time.Millisecond, Acked: 100000}},
				Lifecycle: Lifecycle{Renewed: 400, Lapsed: 3, Lived: 12 * time.Minute},
				Memory:    []ProcMemory{{"worker-1", Memory{Peak: 200 << 20}}, {"graphsim", Memory{Peak: 3 << 30}}, {"this harness (receiver)", Memory{Peak: 2 << 30}}}}},
		Tables:    []store.TableSize{{Table: "presence_events", Bytes: 5 << 30}, {Table: "directory_users", Bytes: 1 << 30}},
		Reference: "round 1: ratio 0.95", Renewals: "not measured: no benchmark yet"}
}

func TestTheReportSaysWhichTargetsWereMissedAndByHowMuch(t *testing.T) {
	md := sampleReport().Markdown()
	for _, want := range []string{
		"7 min 00 s", "**missed**: 2 min over", // cold start, 5 min
		"p99 80.0 ms (", "— met", // 1,000/s within 100 ms
		"Graph made 1000/s", // what the churn offered, beside the rate asked
		"beside PostgreSQL's autovacuum, 1.9 s of its CPU", // what else the phase ran beside
		"p99 400.0 ms", "**missed**: 150 ms over", // 5,000/s, 250 ms
		"20.0 s for 100,000 users changed",                                                     // repair within 30 s
		"7.0 s graphsim and harness",                                                           // what shared the cores with the repair
		"serve 2048 MiB — the product and PostgreSQL **missed**",                               // RSS over 1 GiB
		"graphsim 3072 MiB, this harness (receiver) 2048 MiB — the product and PostgreSQL met", // Microsoft's and the platform's stand-ins are not judged
		"1.00 GiB, 102 MiB per 100,000 users", "history 5120 MiB",                              // history apart
		"round 1: ratio 0.95", "not measured: no benchmark yet",
		"24 GiB RAM; one core decrypts 992 notifications a second here", "2 cores: at most about 1,984 a second", // the machine's ceiling
		"| serve | web + 2 workers |", "— (subscriptions kept from the first run)",
		"| 0.80 s; 0.65 s; 0.30 s |", // CPU per 1,000 at 1,000/s: what shares the cores with the product too
		"| 0 expired | 1,210 renewed, 0 lapsed in 35 min 00 s — met | 400 renewed, 3 lapsed in 12 min 00 s — **missed** |", // Graph's count while the product ran
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
	// The second run drove only 5,000/s: its column of the 1,000/s row is
	// empty, and its 5,000/s phase is in the 5,000/s row.
	for _, line := range strings.Split(md, "\n") {
		switch {
		case strings.HasPrefix(line, "| Latency, Graph's POST → webhook at the receiver, 1,000 changes/s"):
			if !strings.HasSuffix(line, " — |") {
				t.Errorf("the second run's column of the 1,000/s row is not empty: %s", line)
			}
		case strings.HasPrefix(line, "| Latency, Graph's POST → webhook at the receiver, 5,000 changes/s"):
			if !strings.Contains(line, "p99 200.0 ms") || !strings.Contains(line, "p99 400.0 ms") {
				t.Errorf("the 5,000/s row lacks a run's phase: %s", line)
			}
		}
	}
	if !strings.HasPrefix(md, startMarker) || !strings.HasSuffix(strings.TrimSpace(md), endMarker) {
		t.Error("the report is not between its markers")
	}
}

func TestWriteSectionInsertsBeforeMethodOnceThenReplacesOnlyItsOwnSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	before := "# Benchmarks\n\n| a | b |\n\n## Method\n- text\n"
	if err := os.WriteFile(path, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	first := startMarker + "\nfirst run\n" + endMarker + "\n"
	if err := WriteSection(path, first); err != nil {
		t.Fatal(err)
	}
	second := startMarker + "\nsecond run\n" + endMarker + "\n"
	if err := WriteSection(path, second); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	got := string(b)
	if strings.Contains(got, "first run") || strings.Count(got, "second run") != 1 || strings.Count(got, "## Load:") != 1 {
		t.Errorf("after two runs:\n%s", got)
	}
	if !strings.HasPrefix(got, "# Benchmarks\n\n| a | b |\n") || !strings.HasSuffix(got, "## Method\n- text\n") ||
		strings.Index(got, "second run") > strings.Index(got, "## Method") {
		t.Errorf("the rest of the file moved or changed:\n%s", got)
	}
}

func TestTheTimelineSaysWhenEachPartEndedAndTheReportSumsThem(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	tl := NewTimeline(at)
	if got, want := tl.Mark(at.Add(83*time.Second), "setup"), "at 1 min 23 s: setup (1 min 23 s)"; got != want {
		t.Errorf("first mark: %q, want %q", got, want)
	}
	if got, want := tl.Mark(at.Add(297*time.Second), "cold start"), "at 4 min 57 s: cold start (3 min 34 s)"; got != want {
		t.Errorf("second mark: %q, want %q", got, want)
	}
	if tl.Total() != 297*time.Second {
		t.Errorf("total %s, want 4m57s", tl.Total())
	}
	r := sampleReport()
	r.Timeline = tl.Steps
	md := r.Markdown()
	if want := "setup 1 min 23 s; cold start 3 min 34 s — 4 min 57 s in all."; !strings.Contains(md, want) {
		t.Errorf("the report lacks %q:\n%s", want, md)
	}
	if strings.Contains(sampleReport().Markdown(), "wall time went") {
		t.Error("a report without a timeline says where its time went")
	}
}

func TestAPhaseGraphPenalisedSaysSoBesideItsLatency(t *testing.T) {
	r := sampleReport()
	r.Runs[1].Phases[0].Dropped, r.Runs[1].Phases[0].DropEnd = 19599, 1
	md := r.Markdown()
	if want := "**Graph penalised the product's endpoint**: 19,599 notifications dropped, endpoints slow 0, dropping 1 at the end"; !strings.Contains(md, want) {
		t.Errorf("the report lacks %q:\n%s", want, md)
	}
	if strings.Count(md, "Graph penalised") != 1 {
		t.Error("a phase Graph did not penalise says it did")
	}
}

func TestARateDrivenAgainOnceSettledHasARowOfItsOwnThatSaysWhatItWaitedFor(t *testing.T) {
	r := sampleReport()
	r.Runs[0].Phases = append(r.Runs[0].Phases, Phase{Rate: 1000, P50: 8 * time.Millisecond, P99: 60 * time.Millisecond, Acked: 20000,
		Settled: &Settling{Waited: 95 * time.Second, For: []string{"a checkpoint", "autovacuum of directory_users"}, Quiet: true}})
	r.Runs[0].Phases[0].P99 = 300 * time.Millisecond
	md := r.Markdown()
	var right, steady string
	for _, line := range strings.Split(md, "\n") {
		switch {
		case strings.HasPrefix(line, "| Latency, Graph's POST → webhook at the receiver, 1,000 changes/s |"):
			right = line
		case strings.HasPrefix(line, "| Latency, Graph's POST → webhook at the receiver, 1,000 changes/s, steady (once PostgreSQL's upkeep"):
			steady = line
		}
	}
	if !strings.Contains(right, "p99 300.0 ms") || !strings.Contains(right, "**missed**") || strings.Contains(right, "waiting for") {
		t.Errorf("the phase right after the cold start is not its row alone: %q", right)
	}
	if !strings.Contains(steady, "p99 60.0 ms") || !strings.Contains(steady, "— met") ||
		!strings.Contains(steady, "after 1 min 35 s waiting for PostgreSQL's upkeep of the writes before (a checkpoint; autovacuum of directory_users)") {
		t.Errorf("the steady phase's row lacks its figure or its wait: %q", steady)
	}
	if strings.Index(md, right) > strings.Index(md, steady) {
		t.Error("the steady row comes before the row it follows")
	}

	r.Runs[0].Phases[2].Settled.Quiet = false
	if md := r.Markdown(); !strings.Contains(md, "**still under way when the wait's bound came**") {
		t.Error("a wait that ended at its bound does not say so")
	}
}
