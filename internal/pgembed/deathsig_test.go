package pgembed

import (
	"context"
	"fmt"
	"os"
	"testing"

	"presencebridge/internal/testkit/owner"
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

	// The owner reports the server's pid and its socket folder, which a
	// killed owner could not remove.
	said := owner.KilledLeavesNoChild(t, "TestServerDiesWithItsOwner", "PGEMBED_CHILD_DATA_DIR="+dataDir(t), 1)
	os.RemoveAll(said[0])
}
