package faults

import (
	"testing"
	"time"

	"presencebridge/internal/graphsim"
)

// (b) The web role (or serve) is SIGKILLed while Graph's POSTs wait on
// it: before their inbox commit reached PostgreSQL (the statement held in
// the proxy, then the connection gone with the process: nothing stored),
// or after it (the commit done, the 202 never sent: stored, and Graph
// sends the same items again). Graph retries either way, the role comes
// back on its port, and nothing acknowledged is lost, nothing is sent
// twice under a new id.
func TestIntakeKilledAroundTheInboxCommitLosesNothing(t *testing.T) {
	cases := []struct {
		name   string
		split  bool // web and worker processes; else serve
		commit bool // kill after the commit; else before
	}{
		{"web before commit", true, false},
		{"web after commit", true, true},
		{"serve before commit", false, false},
		{"serve after commit", false, true},
	}
	if !full() {
		cases = cases[1:2] // make test: web after commit; make faults: all four
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := sized()
			w := Start(t, Options{Users: s.users, Split: c.split})
			role := "serve"
			if c.split {
				role = "web"
			}
			db, err := w.PG.Proxy(role)
			if err != nil {
				t.Fatal(err)
			}
			tr := w.Drive(s.rate)
			time.Sleep(s.load / 2)
			if c.commit {
				db.HoldAnswers()
			} else {
				db.HoldRequests()
			}
			w.WaitGraph(t, "POSTs waiting on the intake", func(st graphsim.NotificationStats) bool { return st.InFlight > 0 }, 3*time.Second)
			if c.commit {
				time.Sleep(100 * time.Millisecond) // the statement reaches the server and commits
			}
			w.Kill(role)
			db.Cut() // the held bytes go with the connections
			db.ReleaseAnswers()
			db.ReleaseRequests()
			db.Restore()
			time.Sleep(s.load / 2) // Graph retries into a closed port meanwhile
			w.StartRole(role)
			time.Sleep(s.load)
			t.Logf("%d presence changes", tr.Stop())
			l := w.Settle(60 * time.Second)
			w.Check(l, Expect{Overtaken: true})
			if r := w.Retried(t); r == 0 {
				t.Errorf("no notification was retried by Graph: the kill hit nothing in flight")
			}
		})
	}
}
