package loadbench

import (
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadCPUCountsWhatGetrusageCounts(t *testing.T) {
	rusage := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	before, err := ReadCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	start := rusage()
	// Spin until the kernel counts 300 ms of CPU (a wall-clock bound
	// would be met with less on a host busy with other work).
	for deadline := time.Now().Add(time.Minute); rusage()-start < 300*time.Millisecond && time.Now().Before(deadline); {
	}
	spent := rusage() - start
	after, err := ReadCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// /proc counts in ticks of 10 ms, the test's other threads too.
	if got := after.Own - before.Own; got < spent-50*time.Millisecond {
		t.Errorf("getrusage counted %s of CPU, /proc %s", spent, got)
	}
}

func TestChildrenAndTreeCPUSeeAChildAndReadMemoryItsPeak(t *testing.T) {
	child := exec.Command("sleep", "5")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	if kids := Children(os.Getpid()); !slices.Contains(kids, child.Process.Pid) {
		t.Errorf("children %v, without the sleep started (%d)", kids, child.Process.Pid)
	}
	// The kernel counts CPU in ticks of 10 ms: run alone, this test may
	// not have used one yet.
	for deadline := time.Now().Add(time.Minute); TreeCPU(os.Getpid()) <= 0 && time.Now().Before(deadline); {
	}
	if TreeCPU(os.Getpid()) <= 0 {
		t.Error("this process and its children used no CPU")
	}
	// Read as PostgreSQL's are, the sleep is a child with a title that is
	// not PostgreSQL's.
	if p, ok := ReadPostgresCPU(os.Getpid()).procs[child.Process.Pid]; !ok || p.kind != "postmaster's other children" {
		t.Errorf("ReadPostgresCPU: the sleep child read as %+v (found %v)", p, ok)
	}
	m, err := ReadMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS {
		t.Errorf("memory %+v: the peak below what is resident now", m)
	}
	if !strings.Contains(Machine(), "cores") || strings.Count(LoadAverage(), ",") != 2 {
		t.Errorf("machine %q, load average %q", Machine(), LoadAverage())
	}
}

func TestPostgresCPUIsToldByProcessKindAndWhatEndedIsCountedApart(t *testing.T) {
	for title, want := range map[string]string{
		"postgres: checkpointer \x00\x00":                "checkpointer",
		"postgres: autovacuum worker presencebridge\x00": "autovacuum worker",
		"postgres: walwriter ":                           "walwriter",
		"postgres: pb presencebridge [local] idle":       "client backends",
		"postgres: pb presencebridge [local] UPDATE":     "client backends",
		"/usr/lib/postgresql/bin/postgres\x00-D\x00/x":   "postmaster's other children",
	} {
		if got := postgresKind(title); got != want {
			t.Errorf("postgresKind(%q) = %q, want %q", title, got, want)
		}
	}
	then := PostgresCPU{Total: 10 * time.Second, procs: map[int]postgresProc{
		1: {"client backends", 3 * time.Second}, 2: {"autovacuum worker", 2 * time.Second}, 4: {"checkpointer", time.Second}}}
	// Backend 1 went on, autovacuum worker 2 ended (3 s in all), a new one
	// (3) began, and pid 4 was reused by a backend.
	now := PostgresCPU{Total: 17 * time.Second, procs: map[int]postgresProc{
		1: {"client backends", 5 * time.Second}, 3: {"autovacuum worker", time.Second}, 4: {"client backends", time.Second / 2}}}
	got := now.Since(then)
	want := map[string]time.Duration{"client backends": 2*time.Second + time.Second/2, "autovacuum worker": time.Second,
		"exited, and the postmaster": 7*time.Second - 3*time.Second - time.Second/2}
	if !maps.Equal(got, want) {
		t.Errorf("Since = %v, want %v", got, want)
	}
	if s := FormatPostgresCPU(got); s != "exited, and the postmaster 3.50 s, client backends 2.50 s, autovacuum worker 1.00 s" {
		t.Errorf("FormatPostgresCPU = %q", s)
	}
}
