package main

import (
	"runtime/debug"
	"testing"
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
