package main

import (
	"math"
	"os"
	"runtime/debug"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// gcTarget is the collector's target now.
func gcTarget() int {
	v := debug.SetGCPercent(100)
	debug.SetGCPercent(v)
	return v
}

// The collector's target is 200 % unless GOGC names one, which the
// runtime applied before main ran.
func TestTheCollectorsTargetIs200UnlessGOGCNamesOne(t *testing.T) {
	before, limit := gcTarget(), debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(before); debug.SetMemoryLimit(limit) })
	debug.SetGCPercent(100)
	if err := tuneGC(func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if got := gcTarget(); got != gcPercent {
		t.Fatalf("target %d %% without GOGC, want %d", got, gcPercent)
	}
	debug.SetGCPercent(150) // as GOGC=150 would have
	if err := tuneGC(func(k string) string { return map[string]string{"GOGC": "150"}[k] }); err != nil {
		t.Fatal(err)
	}
	if got := gcTarget(); got != 150 {
		t.Fatalf("target %d %% with GOGC=150, want 150", got)
	}
}

// The soft memory limit is 90 % of a container's limit, memoryLimit where
// no container sets one, and the runtime's (none unless GOMEMLIMIT names
// one) with GOMEMLIMIT set or AUTOMEMLIMIT=off.
func TestTheSoftMemoryLimitIsTheContainersOrMemoryLimitUnlessGOMEMLIMITOrAUTOMEMLIMITSaysOtherwise(t *testing.T) {
	before, limit := gcTarget(), debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(before); debug.SetMemoryLimit(limit) })
	for _, k := range []string{"GOMEMLIMIT", "AUTOMEMLIMIT"} { // memlimit.Set reads them itself
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}

	want := int64(memoryLimit)
	if c, err := memlimit.FromCgroup(); err == nil {
		want = int64(float64(c) * 0.9) // this machine runs in a container with a limit
	}
	debug.SetMemoryLimit(math.MaxInt64)
	if err := tuneGC(func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != want {
		t.Errorf("soft limit %d MiB, want %d MiB", got>>20, want>>20)
	}

	for _, env := range []map[string]string{{"GOMEMLIMIT": "2GiB"}, {"AUTOMEMLIMIT": "off"}} {
		debug.SetMemoryLimit(math.MaxInt64) // as the runtime leaves it without GOMEMLIMIT
		if err := tuneGC(func(k string) string { return env[k] }); err != nil {
			t.Fatal(err)
		}
		if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
			t.Errorf("with %v the soft limit is %d MiB, want the runtime's", env, got>>20)
		}
	}
}
