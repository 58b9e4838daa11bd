package graphsim

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Letting 70 minutes pass (POST /_sim/clock) does what 70 minutes do to
// a 55-minute subscription — reauthorizationRequired in its last 15
// minutes, then expiry, after which a change notifies nothing — while the
// Sim's clock stays where it was, so a token issued afterwards is valid
// now, not 70 minutes from now; and what the journal holds is dated as
// long ago as it now is.
func TestAdvancingTimeExpiresSubscriptionsWhileTheClockStaysTheHosts(t *testing.T) {
	f := newFixture(t)
	startNotifier(t, f)
	f.sim.StartJournal()
	rc, lc := newReceiver(t), newReceiver(t)
	ten := f.tenant()
	user := ten.Users[0].ID
	body := f.subRequest(rc.URL, bulkResource(user), false) // expires in 55 minutes
	body["lifecycleNotificationUrl"] = lc.URL
	sub := f.subscribe(f.userToken(ten, f.monitor()), body)
	if err := f.sim.SetTeamsPresence(user, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	rc.next(t)
	var before JournalEntry
	eventually(t, "the notification acknowledged", func() bool {
		before = f.sim.NotificationJournal().Entries[0]
		return before.AckedAt != nil
	})

	advance := func(d string) ClockState {
		t.Helper()
		resp, err := http.Post(f.srv.URL+"/_sim/clock", "application/json", strings.NewReader(`{"advance": "`+d+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st ClockState
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&st) != nil {
			t.Fatalf("POST /_sim/clock %s: %d", d, resp.StatusCode)
		}
		return st
	}
	st := advance("40m") // 15 minutes left: reauthorizationRequired, at once
	checkLifecycleItem(t, lc.next(t).Body, sub, ten.ID.String())
	if !st.Now.Equal(f.clock()) || st.Advanced != "40m0s" {
		t.Errorf("after 40 minutes: %+v, want the clock unmoved (%v) and 40m0s passed", st, f.clock())
	}
	if err := f.sim.SetTeamsPresence(user, "Available", "Available"); err != nil {
		t.Fatal(err)
	}
	rc.next(t) // still alive

	if st := advance("30m"); st.Advanced != "1h10m0s" {
		t.Errorf("advanced %s in all, want 1h10m0s", st.Advanced)
	}
	if subs := f.sim.Subscriptions(); len(subs) != 0 {
		t.Fatalf("%d subscriptions 70 minutes into a 55-minute life", len(subs))
	}
	if err := f.sim.SetTeamsPresence(user, "Away", "Away"); err != nil {
		t.Fatal(err)
	}
	rc.none(t)

	// The clock did not move: a token issued now is good now.
	tok := f.userToken(ten, f.monitor())
	if r := f.call(tok, http.MethodGet, "/v1.0/subscriptions", nil); r.status != http.StatusOK {
		t.Fatalf("a token issued after the advance: %d %s", r.status, r.body)
	}
	after := f.sim.NotificationJournal().Entries[0]
	if got := before.MadeAt.Sub(after.MadeAt); got != 70*time.Minute {
		t.Errorf("the journal's first notification is dated %v earlier, want 70m", got)
	}
	if after.AckedAt == nil || before.AckedAt.Sub(*after.AckedAt) != 70*time.Minute {
		t.Errorf("its acknowledgement: %v, then %v; want 70 minutes earlier", before.AckedAt, after.AckedAt)
	}
}

// The control route refuses what is not a duration, and durations of
// nothing, of the past or of more than a day.
func TestAdvancingTimeRefusesNonsense(t *testing.T) {
	f := newFixture(t)
	for _, body := range []string{`{"advance": "70"}`, `{"advance": "0s"}`, `{"advance": "-5m"}`, `{"advance": "25h"}`, `{"advance": 70}`, `{}`} {
		resp, err := http.Post(f.srv.URL+"/_sim/clock", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST /_sim/clock %s: %d %s, want 400", body, resp.StatusCode, b)
		}
	}
	if got := f.sim.Advanced(); got != 0 {
		t.Errorf("%v passed after refusals only", got)
	}
}
