package graphsim

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// The journal lists every change notification with its POSTs and
// acknowledgements — one acknowledged at once, one acknowledged on the
// retry that a shortened schedule brings a second later, one dropped by a
// fault — and the control API serves it.
func TestJournalTracksAcknowledgementsRetriesAndDrops(t *testing.T) {
	f := newFixture(t)
	startNotifier(t, f)
	rc := newReceiver(t)
	ten := f.tenant()
	sub := f.subscribe(f.userToken(ten, f.monitor()), f.subRequest(rc.URL, bulkResource(ten.Users[0].ID), false))
	control(t, "POST", f.srv.URL+"/_sim/notifications/journal", `{"enabled": true}`, http.StatusNoContent)
	control(t, "PUT", f.srv.URL+"/_sim/notifications/retry-schedule", `{"firstDelayMs": 1000, "maxDelayMs": 2000}`, http.StatusNoContent)
	user := ten.Users[0].ID

	f.sim.SetTeamsPresence(user, "Busy", "InACall")
	rc.next(t)
	eventually(t, "the first acknowledged", func() bool { return f.sim.NotificationStats().Delivered == 1 })

	if _, err := f.sim.AddNotificationFault(NotificationFault{NotificationURL: rc.URL, Status: 500, Times: 1}); err != nil {
		t.Fatal(err)
	}
	f.sim.SetTeamsPresence(user, "Away", "Away")
	eventually(t, "the failed POST recorded", func() bool {
		j := f.sim.NotificationJournal()
		return len(j.Entries) == 2 && j.Entries[1].Posts == 1
	})
	f.advance(999 * time.Millisecond)
	f.sim.TickNotifications()
	rc.none(t)
	f.advance(time.Millisecond)
	f.sim.TickNotifications()
	rc.next(t)
	eventually(t, "the retry acknowledged", func() bool { return f.sim.NotificationStats().Delivered == 2 })

	if _, err := f.sim.AddNotificationFault(NotificationFault{SubscriptionID: sub.ID, Drop: 1}); err != nil {
		t.Fatal(err)
	}
	f.sim.SetTeamsPresence(user, "DoNotDisturb", "Presenting")
	rc.none(t)

	var j Journal
	resp, err := http.Get(f.srv.URL + "/_sim/notifications/journal")
	if err != nil {
		t.Fatal(err)
	}
	decodeJSON(t, resp.Body, &j)
	resp.Body.Close()
	if !j.Enabled || len(j.Entries) != 3 || j.Missed != 0 {
		t.Fatalf("journal %+v, want 3 entries", j)
	}
	want := []struct {
		activity      string
		posts, acks   int
		acked         bool
		dropped       string
		sequenceAfter string
	}{
		{"InACall", 1, 1, true, "", ""},
		{"Away", 2, 1, true, "", j.Entries[0].SequenceNumber},
		{"Presenting", 0, 0, false, "fault", j.Entries[1].SequenceNumber},
	}
	for i, w := range want {
		e := j.Entries[i]
		if e.ID != int64(i+1) || e.SubscriptionID != sub.ID || e.UserID != user.String() || e.Activity != w.activity ||
			e.Posts != w.posts || e.Acks != w.acks || (e.AckedAt != nil) != w.acked || e.Dropped != w.dropped ||
			e.SequenceNumber <= w.sequenceAfter {
			t.Errorf("entry %d = %+v, want %+v", i, e, w)
		}
	}
	// Restarted, it starts empty and goes on numbering.
	f.sim.StartJournal()
	f.sim.SetTeamsPresence(user, "Available", "Available")
	rc.next(t)
	eventually(t, "the new entry acknowledged", func() bool {
		j := f.sim.NotificationJournal()
		return len(j.Entries) == 1 && j.Entries[0].ID == 4 && j.Entries[0].Acks == 1
	})
}

func TestRetryScheduleRefusesNonsenseAndRestoresTheDefault(t *testing.T) {
	f := newFixture(t)
	control(t, "PUT", f.srv.URL+"/_sim/notifications/retry-schedule", `{"firstDelayMs": 2000, "maxDelayMs": 1000}`, http.StatusBadRequest)
	control(t, "PUT", f.srv.URL+"/_sim/notifications/retry-schedule", `{"firstDelayMs": 1, "maxDelayMs": 1}`, http.StatusNoContent)
	control(t, "PUT", f.srv.URL+"/_sim/notifications/retry-schedule", `{"firstDelayMs": 0, "maxDelayMs": 0}`, http.StatusNoContent)
	if got := f.sim.notify.retry; got != defaultRetrySchedule {
		t.Errorf("retry schedule %+v after zeros, want the default %+v", got, defaultRetrySchedule)
	}
}

// control sends a control request and wants status want.
func control(t *testing.T, method, url, body string, want int) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d", method, url, resp.StatusCode, want)
	}
}
