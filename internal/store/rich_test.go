package store_test

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/presence"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
)

// TestRichPresenceIsStoredWithThePresenceAndEachEvent: the status message,
// out of office and work location are kept with the user's presence and
// with each event, read back whole (by the event stream, webhooks and a
// re-read's comparison); a change of any of them alone is published, the
// same again is not, and a user who is simply in the office, first seen
// so, is no change for a row that never knew.
func TestRichPresenceIsStoredWithThePresenceAndEachEvent(t *testing.T) {
	st, tenant := storetest.New(t)
	ctx := context.Background()
	user := uuid.New()
	apply := func(seq string, rich presence.Rich) string {
		t.Helper()
		var outcome string
		if err := st.InTx(ctx, func(tx store.Tx) error {
			var err error
			outcome, _, err = tx.ApplyPresence(ctx, store.PresenceChange{TenantID: tenant, UserID: user, Availability: "Available",
				Activity: "Available", Rich: rich, GraphSequence: seq, MappedState: "available", Source: "notification", ObservedAt: time.Now()})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return outcome
	}
	lunch := &presence.StatusMessage{Message: "Lunch"}
	remote := &presence.WorkLocation{WorkLocationType: "remote", Source: "manual", PlaceID: "home-1"}
	away := &presence.OutOfOffice{IsOutOfOffice: true, Message: "Back Monday"}
	steps := []struct {
		name string
		rich presence.Rich
		want string
	}{
		{"first seen, knowing nothing rich", presence.Rich{}, store.PresenceApplied},
		{"in the office, first known", presence.Rich{OutOfOffice: &presence.OutOfOffice{}}, store.PresenceUnchanged},
		{"a status message and a work location", presence.Rich{StatusMessage: lunch, OutOfOffice: &presence.OutOfOffice{}, WorkLocation: remote}, store.PresenceApplied},
		{"the same again", presence.Rich{StatusMessage: lunch, OutOfOffice: &presence.OutOfOffice{}, WorkLocation: remote}, store.PresenceUnchanged},
		{"out of office", presence.Rich{StatusMessage: lunch, OutOfOffice: away, WorkLocation: remote}, store.PresenceApplied},
		{"the message cleared", presence.Rich{OutOfOffice: away, WorkLocation: remote}, store.PresenceApplied},
	}
	for i, s := range steps {
		if got := apply(string(rune('a'+i)), s.rich); got != s.want {
			t.Errorf("%s: %s, want %s", s.name, got, s.want)
		}
	}

	last := presence.Rich{OutOfOffice: away, WorkLocation: remote}
	p, err := st.GetPresence(ctx, tenant, user)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Rich.Same(last) || p.Rich.OutOfOffice == nil {
		t.Errorf("stored presence: %+v", p.Rich)
	}
	held, err := st.HeldPresences(ctx, tenant, []uuid.UUID{user})
	if err != nil {
		t.Fatal(err)
	}
	if h := held[user]; !h.Rich.Same(last) {
		t.Errorf("held presence: %+v", h.Rich)
	}

	evs, err := st.EventsAfter(ctx, tenant, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []presence.Rich
	for _, e := range evs {
		got = append(got, e.Data.Rich)
	}
	want := []presence.Rich{steps[0].rich, steps[2].rich, steps[4].rich, steps[5].rich}
	if !slices.EqualFunc(got, want, presence.Rich.Same) {
		t.Errorf("events carry %+v, want %+v", got, want)
	}
	if len(evs) == 4 && (evs[0].Data.OutOfOffice != nil || evs[1].Data.WorkLocation == nil || *evs[1].Data.WorkLocation != *remote) {
		t.Errorf("an event's work location or unknown out of office is not as stored: %+v, %+v", evs[0].Data.Rich, evs[1].Data.Rich)
	}
}

// A repair of a whole tenant reads what is held for all of its users at
// once (TenantPresences): the same as reading each of them, each user's
// own (the reads scan every row into one set of destinations), and
// nothing of another tenant's.
func TestTheWholeTenantsHeldPresenceIsWhatEachUsersIsAndNoOtherTenants(t *testing.T) {
	ctx := context.Background()
	st, tenant := storetest.New(t)
	other := storetest.Tenant(t, st.Pool(), "Fabrikam")
	var users []uuid.UUID
	var cs []store.PresenceChange
	for i := range 5 {
		users = append(users, uuid.New())
		cs = append(cs, store.PresenceChange{TenantID: tenant, UserID: users[i], Availability: "Busy", Activity: "InACall", MappedState: "busy",
			Source: "repair", ObservedAt: time.Now(), Rich: presence.Rich{WorkLocation: &presence.WorkLocation{WorkLocationType: "office", PlaceID: strconv.Itoa(i)}}})
	}
	plain := uuid.Max // no rich presence, read after those with some (the key's order)
	users = append(users, plain)
	cs = append(cs, store.PresenceChange{TenantID: tenant, UserID: plain, Availability: "Away", Activity: "Away", MappedState: "away",
		Source: "repair", ObservedAt: time.Now()})
	cs = append(cs, store.PresenceChange{TenantID: other, UserID: uuid.New(), Availability: "Away", Activity: "Away", MappedState: "away",
		Source: "repair", ObservedAt: time.Now()})
	storetest.Apply(t, st, cs)
	each, err := st.HeldPresences(ctx, tenant, users)
	if err != nil {
		t.Fatal(err)
	}
	all, err := st.TenantPresences(ctx, tenant, len(users))
	if err != nil {
		t.Fatal(err)
	}
	if len(each) != len(users) || !maps.EqualFunc(all, each, func(a, b store.HeldPresence) bool {
		return a.Availability == b.Availability && a.Activity == b.Activity && a.GraphSequence == b.GraphSequence && a.Rich.Same(b.Rich)
	}) {
		t.Errorf("the whole tenant's held presence %+v, each user's %+v", all, each)
	}
	for i, u := range users[:5] {
		if w := all[u].Rich.WorkLocation; w == nil || w.PlaceID != strconv.Itoa(i) {
			t.Errorf("user %d's work location was read as %+v, want place %d", i, w, i)
		}
	}
	if r := all[plain].Rich; r.StatusMessage != nil || r.OutOfOffice != nil || r.WorkLocation != nil {
		t.Errorf("a user without rich presence was read with %+v", r)
	}
}
