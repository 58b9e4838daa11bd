package faults

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

// A process the harness started dies with the harness, even killed
// (SIGKILL, no cleanup): an interrupted load run left graphsim and the
// product's roles running before.
func TestAProcessStartedDiesWithItsHarness(t *testing.T) {
	if os.Getenv("FAULTS_DEATHSIG_CHILD") == "1" {
		p, err := StartProcess("sleeper", "sleep", nil, "300")
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("pid", p.cmd.Process.Pid)
		select {} // wait to be killed
	}
	harness := exec.Command(os.Args[0], "-test.run=^TestAProcessStartedDiesWithItsHarness$")
	harness.Env = append(os.Environ(), "FAULTS_DEATHSIG_CHILD=1")
	out, err := harness.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := harness.Start(); err != nil {
		t.Fatal(err)
	}
	var word, value string
	if _, err := fmt.Fscan(bufio.NewReader(out), &word, &value); err != nil || word != "pid" {
		harness.Process.Kill()
		t.Fatalf("the harness did not report its process: %q %q %v", word, value, err)
	}
	pid, _ := strconv.Atoi(value)
	harness.Process.Kill()
	harness.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d still running 10 s after its harness was killed", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
