package enginetest

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/store"
)

// Syncs asked for through the API: the operation rides on the re-read
// queue, and the engine's pass records what really happened to it.

// askSync creates a sync of user (nil: the tenant) as POST /api/v1/sync does.
func (b *bridge) askSync(user *uuid.UUID) store.Operation {
	b.t.Helper()
	var o store.Operation
	err := b.st.InTx(b.t.Context(), func(tx store.Tx) (err error) {
		o, err = tx.CreateSyncOperation(b.t.Context(), b.tenant, user, "apikey:test")
		return err
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return o
}

func (b *bridge) operation(o store.Operation) store.Operation {
	b.t.Helper()
	got, err := b.st.GetOperation(context.Background(), b.tenant, o.ID)
	if err != nil {
		b.t.Fatal(err)
	}
	return got
}

func TestASyncReReadsItsUserFromGraphInTheNextPassAndSucceeds(t *testing.T) {
	// No pipeline: Graph's notifications reach a bare receiver, so only a
	// re-read brings a change in.
	b := newBridge(t, bridgeOptions{users: 10, monitors: 1, authorized: 1})
	w := b.worker(0, nil)
	ctx := t.Context()
	if _, _, err := w.runner.Tenant(ctx, b.tenant); err != nil {
		t.Fatal(err)
	}
	u := b.ten.Users[3]
	if err := b.e.Sim.SetTeamsPresence(u.ID, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	one, all := b.askSync(&u.ID), b.askSync(nil)
	if a, _ := b.held(u.ID); a == "Busy" {
		t.Fatal("the change arrived before the sync ran")
	}
	// Not the periodic repair (due in 10 minutes): the pass drains the queue.
	rep, _, err := w.runner.Tenant(ctx, b.tenant)
	if err != nil || rep.Repaired != 1 {
		t.Fatalf("pass: %+v, %v", rep, err)
	}
	for _, o := range []store.Operation{one, all} {
		if got := b.operation(o); got.Status != store.OperationSucceeded || got.StartedAt == nil || got.FinishedAt == nil {
			t.Errorf("sync %v: %+v", o.UserID, got)
		}
	}
	var source string
	b.pool.QueryRow(ctx, `SELECT source FROM presence_events WHERE user_object_id = $1 ORDER BY id DESC LIMIT 1`, u.ID).Scan(&source)
	if a, act := b.held(u.ID); a != "Busy" || act != "InACall" || source != "repair" {
		t.Errorf("after the sync: %s/%s by %q", a, act, source)
	}
}

func TestASyncFailsWithTheReasonWhenGraphCannotBeReadAndItsUsersStayQueued(t *testing.T) {
	b := newBridge(t, bridgeOptions{users: 10, monitors: 1, authorized: 1})
	ctx := t.Context()
	if _, _, err := b.worker(0, nil).runner.Tenant(ctx, b.tenant); err != nil {
		t.Fatal(err)
	}
	o := b.askSync(nil)
	// The app-only token the re-read needs cannot be had (a new worker has
	// none cached).
	b.e.Sim.AddTokenFault(graphsim.TokenFault{ClientID: b.app.ClientID, Grant: "client_credentials", Status: 503,
		Error: "temporarily_unavailable", Message: "the service is unavailable"})
	if _, _, err := b.worker(0, nil).runner.Tenant(ctx, b.tenant); err == nil {
		t.Fatal("the pass reported no error")
	}
	got := b.operation(o)
	if got.Status != store.OperationFailed || !strings.Contains(got.Error, "could not be re-read from Microsoft Graph") ||
		!strings.Contains(got.Error, "temporarily_unavailable") {
		t.Errorf("after a failed re-read: %+v", got)
	}
	if users, _, _ := b.st.PendingResyncs(ctx, b.tenant, 100); len(users) != 10 {
		t.Errorf("%d users left queued, want all 10 for the next pass", len(users))
	}
}
