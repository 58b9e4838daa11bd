// Package owner tests that the processes a program starts die with it.
// It is apart from testkit, which starts PostgreSQL through pgembed: the
// tests of pgembed itself use it.
package owner

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// KilledLeavesNoChild runs this test binary again as the owner: test run
// alone, with env added (which the test checks, to act as the owner:
// start its child, print "pid N" and any more words, and wait). It kills
// the owner (SIGKILL: no cleanup of its own) and fails t unless process N
// is gone within 10 s. It returns the words printed after the pid.
func KilledLeavesNoChild(t *testing.T, run, env string, words int) []string {
	t.Helper()
	o := exec.Command(os.Args[0], "-test.run=^"+run+"$")
	o.Env = append(os.Environ(), env)
	out, err := o.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Start(); err != nil {
		t.Fatal(err)
	}
	said := make([]string, 2+words)
	args := make([]any, len(said))
	for i := range said {
		args[i] = &said[i]
	}
	if _, err := fmt.Fscan(bufio.NewReader(out), args...); err != nil || said[0] != "pid" {
		o.Process.Kill()
		o.Wait()
		t.Fatalf("the owner did not report its child: %q %v", said, err)
	}
	pid, err := strconv.Atoi(said[1])
	if err != nil {
		o.Process.Kill()
		o.Wait()
		t.Fatalf("the owner reported its child as %q", said[1])
	}
	o.Process.Kill()
	o.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d still running 10 s after its owner was killed", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return said[2:]
}
