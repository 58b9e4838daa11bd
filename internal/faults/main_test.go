package faults

import (
	"os"
	"testing"
)

// The binaries are built by the first scenario (Start), not here: the
// ledger's own tests need none.
func TestMain(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}
