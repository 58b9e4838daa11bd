package graphsim

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/uuid"
)

// users lists the users a POST's notifications are about, in order.
func users(t *testing.T, body []byte) []string {
	t.Helper()
	var out []string
	for _, n := range decodeCollection(t, body).Value {
		out = append(out, n.ResourceData.ID)
	}
	return out
}

// A reorder fault sends a notification after the one that follows it.
func TestReorderFaultSendsANotificationAfterTheNextOne(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t)
	ten := f.tenant()
	a, b := ten.Users[0].ID, ten.Users[1].ID
	f.subscribe(f.userToken(ten, f.monitor()), f.subRequest(rc.URL, bulkResource(a, b), false))
	if _, err := f.sim.AddNotificationFault(NotificationFault{NotificationURL: rc.URL, Reorder: 1}); err != nil {
		t.Fatal(err)
	}
	f.sim.SetTeamsPresence(a, "Busy", "InACall")
	f.sim.SetTeamsPresence(b, "Busy", "InACall")
	startNotifier(t, f) // both changes in one dispatch
	if got := users(t, rc.next(t).Body); len(got) != 2 || got[0] != b.String() || got[1] != a.String() {
		t.Errorf("the POST is about %v, want %s then %s", got, b, a)
	}
	if len(f.sim.NotificationFaults()) != 0 {
		t.Error("a spent reorder fault is still listed")
	}
}

// A delay fault holds a notification by the Sim's clock while later ones
// go out.
func TestDelayFaultLetsLaterNotificationsOvertake(t *testing.T) {
	f := newFixture(t)
	startNotifier(t, f)
	rc := newReceiver(t)
	ten := f.tenant()
	a, b := ten.Users[0].ID, ten.Users[1].ID
	sub := f.subscribe(f.userToken(ten, f.monitor()), f.subRequest(rc.URL, bulkResource(a, b), false))
	if _, err := f.sim.AddNotificationFault(NotificationFault{SubscriptionID: sub.ID, Delay: 1, DelayMS: 5000}); err != nil {
		t.Fatal(err)
	}
	f.sim.SetTeamsPresence(a, "Busy", "InACall")
	rc.none(t)
	f.sim.SetTeamsPresence(b, "Busy", "InACall")
	if got := users(t, rc.next(t).Body); len(got) != 1 || got[0] != b.String() {
		t.Fatalf("first POST about %v, want %s only", got, b)
	}
	f.advance(4 * time.Second)
	f.sim.TickNotifications()
	rc.none(t)
	f.advance(time.Second)
	f.sim.TickNotifications()
	if got := users(t, rc.next(t).Body); len(got) != 1 || got[0] != a.String() {
		t.Fatalf("second POST about %v, want %s", got, a)
	}
}

// A duplicate fault sends an acknowledged POST once more, the same body,
// and the journal counts both acknowledgements.
func TestDuplicateFaultSendsAnAcknowledgedPostAgain(t *testing.T) {
	f := newFixture(t)
	startNotifier(t, f)
	rc := newReceiver(t)
	ten := f.tenant()
	f.subscribe(f.userToken(ten, f.monitor()), f.subRequest(rc.URL, bulkResource(ten.Users[0].ID), false))
	f.sim.StartJournal()
	if _, err := f.sim.AddNotificationFault(NotificationFault{Duplicate: 1}); err != nil {
		t.Fatal(err)
	}
	f.sim.SetTeamsPresence(ten.Users[0].ID, "Busy", "InACall")
	first, second := rc.next(t), rc.next(t)
	if !bytes.Equal(first.Body, second.Body) {
		t.Error("the duplicate is not the same body")
	}
	rc.none(t)
	eventually(t, "both acknowledged", func() bool {
		j := f.sim.NotificationJournal()
		return len(j.Entries) == 1 && j.Entries[0].Posts == 2 && j.Entries[0].Acks == 2
	})
	if st := f.sim.NotificationStats(); st.Posts != 2 || st.Delivered != 2 {
		t.Errorf("stats %+v, want 2 POSTs delivered", st)
	}
}

// One kind of fault does not hide another listed before it, and a
// delay needs its duration.
func TestFaultsOfOneKindDoNotHideAnother(t *testing.T) {
	f := newFixture(t)
	startNotifier(t, f)
	rc := newReceiver(t)
	ten := f.tenant()
	f.subscribe(f.userToken(ten, f.monitor()), f.subRequest(rc.URL, bulkResource(ten.Users[0].ID), false))
	if _, err := f.sim.AddNotificationFault(NotificationFault{Delay: 1}); err == nil {
		t.Error("a delay without delayMs was accepted")
	}
	if _, err := f.sim.AddNotificationFault(NotificationFault{SubscriptionID: uuid.NewString(), Duplicate: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sim.AddNotificationFault(NotificationFault{Reorder: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sim.AddNotificationFault(NotificationFault{Drop: 1}); err != nil {
		t.Fatal(err)
	}
	f.sim.SetTeamsPresence(ten.Users[0].ID, "Busy", "InACall")
	rc.none(t)
	if st := f.sim.NotificationStats(); st.Dropped != 1 {
		t.Errorf("dropped %d, want the drop fault to apply behind the others", st.Dropped)
	}
}
