package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// resolvedRoster adds n users to the tenant's roster and resolves them, as
// the cold start does before it places them; it returns their object ids.
func resolvedRoster(t *testing.T, st *store.Store, tenant uuid.UUID, n int) []uuid.UUID {
	t.Helper()
	entries := make([]store.DirectoryEntry, n)
	for i := range entries {
		entries[i] = store.DirectoryEntry{UPN: fmt.Sprintf("user%05d@contoso.example", i), ExternalID: fmt.Sprintf("ext-%05d", i)}
	}
	users := addList(t, st, tenant, entries)
	rs := make([]store.Resolution, len(users))
	oids := make([]uuid.UUID, len(users))
	for i, u := range users {
		oids[i] = uuid.New()
		rs[i] = store.Resolution{ID: u.ID, Status: store.UserResolved, ObjectID: &oids[i], GraphUPN: u.UPN, DisplayName: "User"}
	}
	if err := st.RecordResolutions(context.Background(), tenant, rs); err != nil {
		t.Fatal(err)
	}
	return oids
}

// addList adds entries to the tenant's roster as a list names them, and
// reads the roster back.
func addList(tb testing.TB, st *store.Store, tenant uuid.UUID, entries []store.DirectoryEntry) []store.DirectoryUser {
	tb.Helper()
	if _, err := st.UpsertDirectoryUsers(context.Background(), tenant, store.SourceList, entries); err != nil {
		tb.Fatal(err)
	}
	users, err := st.DirectoryUsers(context.Background(), tenant, false)
	if err != nil {
		tb.Fatal(err)
	}
	return users
}

// placements reads each resolved user's monitor (nil: none).
func placements(t *testing.T, st *store.Store, tenant uuid.UUID) map[uuid.UUID]*uuid.UUID {
	t.Helper()
	roster, err := st.ResolvedRoster(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uuid.UUID]*uuid.UUID{}
	for _, u := range roster {
		out[u.ObjectID] = u.MonitorID
	}
	return out
}

// monitorsOf adds n monitors to the tenant and returns their ids.
func monitorsOf(t *testing.T, st *store.Store, tenant uuid.UUID, n int) []uuid.UUID {
	t.Helper()
	ids := make([]uuid.UUID, n)
	for i := range ids {
		m, err := st.AddMonitor(context.Background(), tenant, fmt.Sprintf("monitor%d@contoso.example", i))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = m.ID
	}
	return ids
}

// Placing the resolved roster on monitors, which the cold start does for
// every user, writes monitor_id alone. Indexed, it wrote a new entry into
// each of the table's ten indexes for every user (at a million users
// 158.8 s of PostgreSQL's time, then autovacuum's work on the first
// latency phase; issue 16). Unindexed, and with room on the row's page,
// the update is heap-only. Measured here: 3 of 5,000 before migration
// 000056; after it, with the pages filled to 100, 80, 65, 55, 45 and 35 %,
// 0, 1,914, 3,527, 4,660, 3,543 and 5,000, the table and its indexes
// 6.5, 6.2, 5.7, 5.1, 5.7 and 5.0 MB.
func TestPlacingTheResolvedRosterOnMonitorsWritesNoIndexEntryForMostUsers(t *testing.T) {
	ctx := context.Background()
	st, tenant := directoryFixture(t)
	const users = 5000
	oids := resolvedRoster(t, st, tenant, users)
	monitors := monitorsOf(t, st, tenant, 8)
	to := make([]*uuid.UUID, users)
	for i := range to {
		to[i] = &monitors[i*len(monitors)/users]
	}
	var updated, hot int64
	err := st.InTx(ctx, func(tx store.Tx) error {
		// The counts include the connection's earlier transactions not
		// yet reported; none is reported within this one.
		updated0, hot0, err := tx.TableUpdates(ctx, "directory_users")
		if err != nil {
			return err
		}
		if err := tx.AssignUsers(ctx, tenant, oids, to); err != nil {
			return err
		}
		updated, hot, err = tx.TableUpdates(ctx, "directory_users")
		updated, hot = updated-updated0, hot-hot0
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("placing %d users: %d updates, %d heap-only", users, updated, hot)
	if updated != users {
		t.Fatalf("placing %d users updated %d rows", users, updated)
	}
	if hot < users*9/10 {
		t.Errorf("%d of %d placements were heap-only, want at least 90 %%", hot, users)
	}
	got := placements(t, st, tenant)
	for i, u := range oids {
		if m := got[u]; m == nil || *m != *to[i] {
			t.Fatalf("user %d placed on %v, want %v", i, m, *to[i])
		}
	}
}

// directory_users has no key to monitors (migration 000056: its ON DELETE
// SET NULL read the whole table for each deleted monitor), so deleting a
// monitor takes its users off it itself, and only that tenant's.
func TestDeletingAMonitorTakesItsUsersOffItAndNoOneElse(t *testing.T) {
	ctx := context.Background()
	st, tenant := directoryFixture(t)
	oids := resolvedRoster(t, st, tenant, 4)
	ms := monitorsOf(t, st, tenant, 2)
	if err := st.AssignUsers(ctx, tenant, oids, []*uuid.UUID{&ms[0], &ms[0], &ms[1], nil}); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteMonitor(ctx, tenant, ms[0]); err != nil {
		t.Fatal(err)
	}
	got := placements(t, st, tenant)
	if got[oids[0]] != nil || got[oids[1]] != nil {
		t.Errorf("the deleted monitor's users are still on it: %v, %v", got[oids[0]], got[oids[1]])
	}
	if m := got[oids[2]]; m == nil || *m != ms[1] {
		t.Errorf("the other monitor's user is on %v, want %v", m, ms[1])
	}
	if err := st.DeleteMonitor(ctx, tenant, ms[0]); err != store.ErrMonitorNotFound {
		t.Errorf("deleting it again: %v, want ErrMonitorNotFound", err)
	}
}

// A placement names monitors the engine read a moment before; one deleted
// since, or one of another tenant, is not written, and the user keeps its
// placement for the next pass.
func TestUsersAreNotPlacedOnAMonitorThatIsGoneOrAnotherTenants(t *testing.T) {
	ctx := context.Background()
	st, tenant := directoryFixture(t)
	other, err := st.CreateTenant(ctx, "Fabrikam", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	oids := resolvedRoster(t, st, tenant, 3)
	ms := monitorsOf(t, st, tenant, 2)
	foreign := monitorsOf(t, st, other.ID, 1)[0]
	if err := st.AssignUsers(ctx, tenant, oids, []*uuid.UUID{&ms[0], &ms[0], &ms[0]}); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteMonitor(ctx, tenant, ms[1]); err != nil {
		t.Fatal(err)
	}
	if err := st.AssignUsers(ctx, tenant, oids, []*uuid.UUID{&ms[1], &foreign, nil}); err != nil {
		t.Fatal(err)
	}
	got := placements(t, st, tenant)
	if m := got[oids[0]]; m == nil || *m != ms[0] {
		t.Errorf("a user moved to a deleted monitor is on %v, want its own %v", m, ms[0])
	}
	if m := got[oids[1]]; m == nil || *m != ms[0] {
		t.Errorf("a user moved to another tenant's monitor is on %v, want its own %v", m, ms[0])
	}
	if got[oids[2]] != nil {
		t.Errorf("a user taken off its monitor is on %v", got[oids[2]])
	}
}

// A monitor deleted while a placement on it is being committed waits for
// it and then takes those users off: no user is left on a monitor that is
// gone (the key to monitors did this by locking the monitor; the
// placement locks it itself now).
func TestAMonitorDeletedDuringAPlacementOnItLeavesNoUserOnIt(t *testing.T) {
	ctx := context.Background()
	st, tenant := directoryFixture(t)
	oids := resolvedRoster(t, st, tenant, 3)
	m := monitorsOf(t, st, tenant, 1)[0]
	deleted := make(chan error, 1)
	err := st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.AssignUsers(ctx, tenant, oids, []*uuid.UUID{&m, &m, &m}); err != nil {
			return err
		}
		go func() { deleted <- st.DeleteMonitor(ctx, tenant, m) }()
		// The delete waits on the placement's lock of the monitor.
		deadline := time.Now().Add(10 * time.Second)
		for {
			var waiting bool
			if err := st.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'DELETE FROM monitors%')`).
				Scan(&waiting); err != nil {
				return err
			}
			if waiting {
				return nil
			}
			select {
			case err := <-deleted:
				return fmt.Errorf("the delete did not wait for the placement to commit (it returned %v)", err)
			default:
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the delete is neither waiting nor done after 10 s")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
	for u, m := range placements(t, st, tenant) {
		if m != nil {
			t.Errorf("user %v is on the deleted monitor %v", u, *m)
		}
	}
}

// A placement is the engine's output of reading the roster, not a change
// of it: it leaves nothing for the next pass to take (migration 000057).
// A write of the roster after it, in the same transaction, still does.
func TestAPlacementIsNoRosterChangeButAWriteAfterItIs(t *testing.T) {
	ctx := context.Background()
	st, tenant := directoryFixture(t)
	oids := resolvedRoster(t, st, tenant, 2)
	m := monitorsOf(t, st, tenant, 1)[0]
	taken := func(when string) bool {
		t.Helper()
		changed, err := st.TakeRosterChanges(ctx, tenant)
		if err != nil {
			t.Fatalf("taking the roster changes %s: %v", when, err)
		}
		return changed
	}
	if !taken("after the roster was added") {
		t.Fatal("adding and resolving the roster left no change to take")
	}
	if err := st.AssignUsers(ctx, tenant, oids, []*uuid.UUID{&m, &m}); err != nil {
		t.Fatal(err)
	}
	if taken("after a placement") {
		t.Error("a placement left a roster change")
	}
	err := st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.AssignUsers(ctx, tenant, oids, []*uuid.UUID{nil, &m}); err != nil {
			return err
		}
		_, err := tx.UpsertDirectoryUsers(ctx, tenant, store.SourceList, []store.DirectoryEntry{{UPN: "new@contoso.example"}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !taken("after a placement and a user added in one transaction") {
		t.Error("a user added after a placement, in its transaction, left no roster change")
	}
}
