package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/presence"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
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
	page := func(after uuid.UUID, limit int) ([]store.UserPresence, error) {
		var out []store.UserPresence
		err := st.PresencePage(ctx, ten, after, limit, func(p *store.UserPresence) error {
			out = append(out, *p)
			return nil
		})
		return out, err
	}
	first, err := page(uuid.Nil, 2)
	if err != nil || len(first) != 2 {
		t.Fatalf("first page: %+v, %v", first, err)
	}
	rest, err := page(first[1].ObjectID, 2)
	if err != nil || len(rest) != 1 {
		t.Fatalf("second page: %+v, %v", rest, err)
	}
	stop := errors.New("enough")
	calls := 0
	err = st.PresencePage(ctx, ten, uuid.Nil, 3, func(*store.UserPresence) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("fn's error ends the page: %d calls, %v", calls, err)
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

func TestAPresencePageSkipsThePresenceOfUsersNoLongerOnTheRosterWhereverTheySit(t *testing.T) {
	ctx := context.Background()
	st, ten := directoryFixture(t)
	// Four users, 1 and 3 with a presence, and before each of them the
	// presence of someone who left the roster: a page of four must read
	// past the first four presence rows to find user 3's.
	id := func(b byte) uuid.UUID { return uuid.UUID{b, 0, 0, 0, 0, 0, 0x40, 0, 0x80} }
	upns := []string{"u0@contoso.example", "u1@contoso.example", "u2@contoso.example", "u3@contoso.example"}
	if _, err := st.UpsertDirectoryUsers(ctx, ten, store.SourceList, []store.DirectoryEntry{{UPN: upns[0]}, {UPN: upns[1]}, {UPN: upns[2]}, {UPN: upns[3]}}); err != nil {
		t.Fatal(err)
	}
	rows := byUPN(t, st, ten)
	var res []store.Resolution
	for i, upn := range upns {
		oid := id(byte(0x20 * (i + 1)))
		res = append(res, store.Resolution{ID: rows[upn].ID, Status: store.UserResolved, ObjectID: &oid})
	}
	if err := st.RecordResolutions(ctx, ten, res); err != nil {
		t.Fatal(err)
	}
	seen := time.Now()
	for _, b := range []byte{0x1f, 0x3f, 0x40, 0x5f, 0x7f, 0x80, 0xf0} { // users 1 and 3, the rest gone
		err := st.InTx(ctx, func(tx store.Tx) error {
			_, _, err := tx.ApplyPresence(ctx, store.PresenceChange{TenantID: ten, UserID: id(b),
				Availability: "Busy", Activity: "InACall", MappedState: "talking", Source: "notification", ObservedAt: seen})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	err := st.PresencePage(ctx, ten, uuid.Nil, 4, func(p *store.UserPresence) error {
		got = append(got, fmt.Sprintf("%s:%v", p.UPN, p.Known))
		return nil
	})
	want := "[u0@contoso.example:false u1@contoso.example:true u2@contoso.example:false u3@contoso.example:true]"
	if err != nil || fmt.Sprint(got) != want {
		t.Errorf("page: %v, %v; want %s", got, err, want)
	}
}

// A single user's presence reads the same whether PostgreSQL answers in
// binary (the pool's statement cache, read without pgx's scan) or in text
// (the simple protocol, as behind a pooler, scanned by pgx): the presence,
// its times, its rich presence, and none for a user not seen yet.
func TestAUserPresenceReadsTheSameInBinaryAndInText(t *testing.T) {
	ctx := context.Background()
	st, ten := directoryFixture(t)
	m := authorizedMonitor(t, st, ten, "monitor@contoso.example")
	ids := resolved(t, st, ten, &m, "seen@contoso.example", "unseen@contoso.example")
	seen := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	err := st.InTx(ctx, func(tx store.Tx) error {
		_, _, err := tx.ApplyPresence(ctx, store.PresenceChange{TenantID: ten, UserID: ids["seen@contoso.example"],
			Availability: "Busy", Activity: "InAnUnlistedActivity", MappedState: "talking", Source: "notification", ObservedAt: seen,
			Rich: presence.Rich{StatusMessage: &presence.StatusMessage{Message: "On a call"},
				OutOfOffice: &presence.OutOfOffice{IsOutOfOffice: true, Message: "back Monday"}}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	held := seen.Add(90 * time.Second)
	testkit.Exec(t, st.Pool(), `UPDATE presence SET held_until = $1, sequence = 7 WHERE user_object_id = $2`, held, ids["seen@contoso.example"])

	cfg, err := pgxpool.ParseConfig(st.Pool().Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	store.ConfigurePool(cfg)
	textPool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer textPool.Close()
	inText := storetest.Open(t, textPool)

	for _, ref := range []string{ids["seen@contoso.example"].String(), "unseen@contoso.example"} {
		bin, err := st.FindUserPresence(ctx, ten, ref)
		if err != nil {
			t.Fatalf("%s in binary: %v", ref, err)
		}
		txt, err := inText.FindUserPresence(ctx, ten, ref)
		if err != nil {
			t.Fatalf("%s in text: %v", ref, err)
		}
		for _, p := range []store.UserPresence{bin, txt} {
			if ref == "unseen@contoso.example" {
				if p.ObjectID != ids[ref] || p.Known || p.Availability != "" || !p.ObservedAt.IsZero() || p.Rich != (presence.Rich{}) {
					t.Errorf("a user not seen yet: %+v", p)
				}
				continue
			}
			if p.ObjectID != ids["seen@contoso.example"] || p.UPN != "seen@contoso.example" || !p.Known || p.Availability != "Busy" ||
				p.Activity != "InAnUnlistedActivity" || p.MappedState != "talking" || p.Sequence != 7 ||
				!p.ObservedAt.Equal(seen) || !p.HeldUntil.Equal(held) || p.WorkLocation != nil ||
				p.StatusMessage == nil || p.StatusMessage.Message != "On a call" || p.OutOfOffice == nil || p.OutOfOffice.Message != "back Monday" {
				t.Errorf("a user seen: %+v", p)
			}
		}
	}
}
