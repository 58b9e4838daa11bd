package faults

import (
	"fmt"
	"os"
	"testing"

	"presencebridge/internal/testkit/owner"
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
	owner.KilledLeavesNoChild(t, "TestAProcessStartedDiesWithItsHarness", "FAULTS_DEATHSIG_CHILD=1", 0)
}
