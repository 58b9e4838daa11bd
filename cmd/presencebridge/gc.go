package main

import (
	"errors"
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

// tuneGC applies gcPercent unless GOGC is set, and a soft memory limit —
// 90 % of the container's memory limit, unless GOMEMLIMIT is set (or
// AUTOMEMLIMIT=off; github.com/KimMachineGun/automemlimit, which reads
// cgroups v1 and v2) — so that a heap allowed to grow further is
// collected harder before a container's limit kills the process. Where
// there is no such limit, as on a machine of its own, there is no soft
// limit either (nor outside Linux, or outside any cgroup). It reports why
// a container's limit could not be read, if it could not: the process
// runs on without one.
func tuneGC(getenv func(string) string) error {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if _, err := memlimit.Set(); err != nil && !errors.Is(err, memlimit.ErrNoCgroup) && !errors.Is(err, memlimit.ErrCgroupsNotSupported) {
		return err
	}
	return nil
}
