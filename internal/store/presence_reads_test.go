package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/presence"
	"presencebridge/internal/store"
)

func TestPresenceReadsListRosterUsersWithTheirPresenceInObjectIDOrder(t *testing.T) {
	ctx := context.Background()
	st, ten := directoryFixture(t)
	m := authorizedMonitor(t, st, ten, "monitor@contoso.example")
	ids := resolved(t, st, ten, &m, "a@contoso.example", "b@contoso.example", "c@contoso.example")
	seen := time.Now().Truncate(time.Microsecond)
	err := st.InTx(ctx, func(tx store.Tx) error {
		_, _, err := tx.ApplyPresence(ctx, store.PresenceChange{TenantID: ten, UserID: ids["b@contoso.example"],
			Availability: "Busy", Activity: "InACall", MappedState: "talking", Source: "notification", ObservedAt: seen,
			Rich: presence.Rich{OutOfOffice: &presence.OutOfOffice{IsOutOfOffice: true, Message: "back Monday"},
				WorkLocation: &presence.WorkLocation{WorkLocationType: "remote"}}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Someone's presence that is not on the roster is not listed.
	err = st.InTx(ctx, func(tx store.Tx) error {
		_, _, err := tx.ApplyPresence(ctx, store.PresenceChange{TenantID: ten, UserID: uuid.New(),
			Availability: "Available", Activity: "Available", MappedState: "available", Source: "notification", ObservedAt: seen})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	first, err := st.PresencePage(ctx, ten, uuid.Nil, 2)
	if err != nil || len(first) != 2 {
		t.Fatalf("first page: %+v, %v", first, err)
	}
	rest, err := st.PresencePage(ctx, ten, first[1].ObjectID, 2)
	if err != nil || len(rest) != 1 {
		t.Fatalf("second page: %+v, %v", rest, err)
	}
	all := append(first, rest...)
	for i := 1; i < len(all); i++ {
		if all[i-1].ObjectID.String() >= all[i].ObjectID.String() {
			t.Errorf("not in object id order: %v then %v", all[i-1].ObjectID, all[i].ObjectID)
		}
	}
	for _, p := range all {
		b := p.ObjectID == ids["b@contoso.example"]
		if (p.OutOfOffice != nil) != b || (p.WorkLocation != nil) != b {
			t.Errorf("%s's rich presence: %+v", p.UPN, p.Rich)
		}
		if p.Known != b || (b && (p.Activity != "InACall" || p.MappedState != "talking" || p.Sequence != 1 || !p.ObservedAt.Equal(seen) ||
			p.ExternalID != "ext-b@contoso.example")) {
			t.Errorf("%s: %+v", p.UPN, p)
		}
	}
	many, err := st.PresencesOf(ctx, ten, []uuid.UUID{ids["c@contoso.example"], uuid.New(), ids["b@contoso.example"]})
	if err != nil || len(many) != 2 {
		t.Errorf("presences of two users and a stranger: %+v, %v", many, err)
	}
	one, err := st.FindUserPresence(ctx, ten, "B@contoso.example")
	if err != nil || one.ObjectID != ids["b@contoso.example"] || one.Availability != "Busy" || one.OutOfOffice == nil ||
		one.OutOfOffice.Message != "back Monday" || one.WorkLocation.WorkLocationType != "remote" || one.StatusMessage != nil {
		t.Errorf("by UPN: %+v, %v", one, err)
	}
	if _, err := st.FindUserPresence(ctx, ten, uuid.NewString()); err != store.ErrUserNotFound {
		t.Errorf("a stranger: %v", err)
	}
}
