package deliver

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/google/uuid"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// TestAfterA410EnablingAndReplayingSendsEveryMissedChangeInOrderPerUser:
// the receiver answers 410 once, which disables its endpoint; the users
// keep changing; once it is enabled again and replayed, the receiver has
// had every change of each user exactly in sequence order — the one that
// got the 410 and the ones made while the endpoint was off (issue 15:
// those were never queued, so a replay could not bring them).
func TestAfterA410EnablingAndReplayingSendsEveryMissedChangeInOrderPerUser(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := newReceiver(t, func(n int) (int, http.Header) {
		if n == 1 {
			return http.StatusGone, nil
		}
		return http.StatusNoContent, nil
	})
	ep := f.endpoint(t, f.tenant, r)
	ann, bob := uuid.New(), uuid.New()
	f.change(t, f.tenant, ann, "Busy", "InACall", "talking")
	d := New(f.st, Options{AllowPrivate: true, Schedule: fast})
	d.RunOnce(ctx)
	if len(r.all()) != 1 {
		t.Fatalf("%d requests, want the one answered 410", len(r.all()))
	}
	for _, c := range []struct {
		user     uuid.UUID
		activity string
	}{{bob, "InACall"}, {ann, "InAMeeting"}, {bob, "Presenting"}, {ann, "Away"}} {
		f.change(t, f.tenant, c.user, "Busy", c.activity, "busy")
	}
	d.RunOnce(ctx)
	if n := len(r.all()); n != 1 {
		t.Fatalf("a disabled endpoint received %d requests", n-1)
	}
	// Replayed while still disabled, they would only wait there: refused,
	// and nothing changes.
	if _, err := Replay(ctx, f.st, f.tenant, ep, "test", store.ReplayFilter{}); !errors.Is(err, ErrEndpointDisabled) {
		t.Fatalf("replay while disabled: %v, want ErrEndpointDisabled", err)
	}
	if err := Enable(ctx, f.st, f.tenant, ep, "test"); err != nil {
		t.Fatal(err)
	}
	if res, err := Replay(ctx, f.st, f.tenant, ep, "test", store.ReplayFilter{}); err != nil || res.Replayed != 5 {
		t.Fatalf("replay: %+v, %v; want the 410's delivery and the 4 made while disabled", res, err)
	}
	for range 10 { // each claim takes one delivery per user
		d.RunOnce(ctx)
	}
	got := map[uuid.UUID][]int64{}
	for _, g := range r.all()[1:] {
		got[g.event.Data.User.ObjectID] = append(got[g.event.Data.User.ObjectID], g.event.Data.Sequence)
	}
	if !slices.Equal(got[ann], []int64{1, 2, 3}) || !slices.Equal(got[bob], []int64{1, 2}) {
		t.Errorf("sequences received after the replay: ann %v, bob %v; want 1 2 3 and 1 2", got[ann], got[bob])
	}
	if s := f.status(t); s["delivered"] != 5 || len(s) != 1 {
		t.Errorf("statuses = %v, want 5 delivered", s)
	}
}

// TestDroppingDeadLettersDeletesWhatAReplayWouldPickAndIsAudited: a drop
// by ids deletes those of the endpoint's dead letters and audits it with
// who did it; another tenant's endpoint is not found.
func TestDroppingDeadLettersDeletesWhatAReplayWouldPickAndIsAudited(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ep := f.endpoint(t, f.tenant, newReceiver(t, nil))
	for range 3 {
		f.change(t, f.tenant, uuid.New(), "Busy", "InACall", "talking")
	}
	testkit.Exec(t, f.pool, `UPDATE deliveries SET status = 'dead' WHERE id IN (SELECT id FROM deliveries ORDER BY id LIMIT 2)`)
	var first int64
	f.pool.QueryRow(ctx, `SELECT min(id) FROM deliveries`).Scan(&first)
	n, err := Drop(ctx, f.st, f.tenant, ep, "staff:ops@vendor.example", store.ReplayFilter{IDs: []int64{first}})
	if err != nil || n != 1 {
		t.Fatalf("drop: %d, %v", n, err)
	}
	if s := f.status(t); s["dead"] != 1 || s["pending"] != 1 || len(s) != 2 {
		t.Errorf("statuses after the drop = %v, want 1 dead and 1 pending left", s)
	}
	entries, err := f.st.AuditLog(ctx, f.tenant, 1)
	if err != nil || len(entries) != 1 || entries[0].Action != "endpoint.dropped" || entries[0].Actor != "staff:ops@vendor.example" ||
		entries[0].Detail["dropped"] != float64(1) || entries[0].Detail["deliveryIds"] != float64(1) {
		t.Errorf("audit log: %+v, %v", entries, err)
	}
	other := storetest.Tenant(t, f.pool, "Other")
	if _, err := Drop(ctx, f.st, other, ep, "test", store.ReplayFilter{}); !errors.Is(err, store.ErrEndpointNotFound) {
		t.Errorf("another tenant's endpoint: %v", err)
	}
}
