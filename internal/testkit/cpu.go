package testkit

import (
	"syscall"
	"time"
)

// ProcessCPU is the CPU time this process has used so far, user and
// system (getrusage): a benchmark's own share, the database's backends
// being other processes. Zero if the call fails.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
