package pgembed

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestServerDiesWithItsOwner kills (SIGKILL, no cleanup) a process that
// started a server and checks the server goes too: a crashed presencebridge
// must not leave an orphan PostgreSQL holding the data folder.
func TestServerDiesWithItsOwner(t *testing.T) {
	if dir := os.Getenv("PGEMBED_CHILD_DATA_DIR"); dir != "" {
		s, err := Start(context.Background(), Options{DataDir: dir})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("pid", s.cmd.Process.Pid, s.socketDir)
		select {} // wait to be killed
	}

	child := exec.Command(os.Args[0], "-test.run=^TestServerDiesWithItsOwner$")
	child.Env = append(os.Environ(), "PGEMBED_CHILD_DATA_DIR="+dataDir(t))
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	var word, value, socketDir string
	if _, err := fmt.Fscan(bufio.NewReader(out), &word, &value, &socketDir); err != nil || word != "pid" {
		child.Process.Kill()
		t.Fatalf("child did not report a server pid: %q %q %v", word, value, err)
	}
	pgPid, _ := strconv.Atoi(value)
	child.Process.Kill()
	child.Wait()
	defer os.RemoveAll(socketDir) // the killed owner could not remove it

	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pgPid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(pgPid, syscall.SIGKILL)
			t.Fatalf("postgres pid %d still running 10s after its owner was killed", pgPid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
