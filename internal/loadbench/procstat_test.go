package loadbench

import (
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
	if TreeCPU(os.Getpid()) <= 0 {
		t.Error("this process and its children used no CPU")
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
