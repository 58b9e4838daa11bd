package main

import (
	"errors"
	"fmt"
	"math"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// gcPercent is the garbage collector's target unless GOGC says otherwise:
// a collection once the heap has grown by twice what was live after the
// last one (Go's default is once). The collector took 15 % of serve's CPU
// while it repaired a million users after a restart; at 200 serve used
// 15.4 and 15.7 s of CPU for two such repairs of 100,000 changes, at 100
// 18.0 and 17.6 s, run one after the other (TestLoadRepair with
// PB_LOAD_GOGC, issue 16). The heap's peak grows with it, up to three
// times what is live; the load run's RSS figures in BENCHMARKS.md are
// taken with this default.
const gcPercent = 200

// memoryLimit is the soft memory limit where no container sets one: the
// product's target is at most 1 GiB resident a process (issue 16), and
// what the Go runtime does not count — the binary's text, libcrypto's
// allocations — with a burst's overshoot fits in the 256 MiB left. Under
// it GOGC's headroom costs nothing; near it the collector and the
// scavenger work harder. Without it, web + 2 workers' workers peaked at
// 1,115 and 1,171 MiB through the 2-minute 5,000/s phase of make
// bench-load BENCH_FULL=1 at 100,000 users (2026-12-05; 602 and 799 MiB
// in a second run), draining a backlog of half a million notifications,
// while what was live after a collection was 187 MiB at 674 MiB resident
// (a heap profile: mostly the processors' claimed inbox rows and their
// presence write's arguments). At GOGC=200 a heap grows to three times
// what is live before it is collected.
const memoryLimit = 768 << 20

// tuneGC applies gcPercent unless GOGC is set, and a soft memory limit:
// 90 % of the container's memory limit (github.com/KimMachineGun/
// automemlimit, which reads cgroups v1 and v2), so that a heap allowed to
// grow further is collected harder before a container's limit kills the
// process; or memoryLimit where no container sets one (a machine of its
// own, outside Linux, outside any cgroup). GOMEMLIMIT, or AUTOMEMLIMIT=off,
// leaves the limit to the runtime: none unless GOMEMLIMIT names one. It
// reports why a container's limit could not be read, if it could not: the
// process runs on with memoryLimit.
func tuneGC(getenv func(string) string) error {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if getenv("GOMEMLIMIT") != "" || getenv("AUTOMEMLIMIT") == "off" {
		return nil
	}
	limit, err := memlimit.Set()
	if limit == math.MaxInt64 { // no container's limit
		debug.SetMemoryLimit(memoryLimit)
	}
	if err != nil && !errors.Is(err, memlimit.ErrNoCgroup) && !errors.Is(err, memlimit.ErrCgroupsNotSupported) {
		return fmt.Errorf("the container's memory limit could not be read, so the soft limit is %d MiB: %w", debug.SetMemoryLimit(-1)>>20, err)
	}
	return nil
}
