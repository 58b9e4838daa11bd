package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// A dead delivery is kept, not replayed, while a newer one of the same
// user is being sent (pending under a live claim): it would be claimed
// only after that one and reach the endpoint after the newer state. A
// newer one merely waiting in the queue is no reason to keep it: replayed,
// the older goes first.
func TestAReplayKeepsBackWhatANewerDeliveryBeingSentWouldOvertake(t *testing.T) {
	ctx := context.Background()
	st, tenant := storetest.New(t)
	ep, _ := st.CreateEndpoint(ctx, tenant, "https://a.example/hook", "whsec_dGVzdA==")
	ann := uuid.New()
	publish(t, st, tenant, ann, "InACall")
	publish(t, st, tenant, ann, "InAMeeting")
	d := deliveries(t, st, tenant, ep.ID)
	testkit.Exec(t, st.Pool(), `UPDATE deliveries SET status = 'dead' WHERE id = $1`, d[0].ID)
	testkit.Exec(t, st.Pool(), `UPDATE deliveries SET leased_until = now() + interval '30 seconds' WHERE id = $1`, d[1].ID)
	if r, err := st.ReplayEndpoint(ctx, tenant, ep.ID, store.ReplayFilter{}); err != nil || r != (store.Replayed{Kept: 1}) {
		t.Fatalf("replay while the newer one is sent: %+v, %v; want it kept", r, err)
	}
	testkit.Exec(t, st.Pool(), `UPDATE deliveries SET leased_until = NULL WHERE id = $1`, d[1].ID)
	if r, err := st.ReplayEndpoint(ctx, tenant, ep.ID, store.ReplayFilter{}); err != nil || r != (store.Replayed{Replayed: 1}) {
		t.Fatalf("replay while the newer one waits: %+v, %v; want it replayed", r, err)
	}
}

// A replay marks each user's oldest replayed delivery, and only it, for
// the claim that first takes it to check that nothing newer of the user
// reached the endpoint meanwhile (order_check; the rows behind it wait in
// order behind it). The claim clears the mark.
func TestAReplayMarksEachUsersOldestReplayedDeliveryForTheClaimsCheck(t *testing.T) {
	ctx := context.Background()
	st, tenant := storetest.New(t)
	ep, _ := st.CreateEndpoint(ctx, tenant, "https://a.example/hook", "whsec_dGVzdA==")
	for _, u := range []uuid.UUID{uuid.New(), uuid.New()} {
		for _, act := range []string{"InACall", "InAMeeting", "Presenting"} {
			publish(t, st, tenant, u, act)
		}
	}
	testkit.Exec(t, st.Pool(), `UPDATE deliveries SET status = 'dead'`)
	if r, err := st.ReplayEndpoint(ctx, tenant, ep.ID, store.ReplayFilter{}); err != nil || r != (store.Replayed{Replayed: 6}) {
		t.Fatalf("replay: %+v, %v", r, err)
	}
	marked := func() (seqs []int64) {
		rows, err := st.Pool().Query(ctx, `SELECT e.sequence FROM deliveries d JOIN presence_events e ON e.id = d.event_id
			WHERE d.order_check ORDER BY e.sequence`)
		if err != nil {
			t.Fatal(err)
		}
		seqs, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			t.Fatal(err)
		}
		return seqs
	}
	if got := marked(); fmt.Sprint(got) != "[1 1]" {
		t.Errorf("marked sequences %v, want each user's first", got)
	}
	got, _, err := st.ClaimDeliveries(ctx, 10, time.Minute, nil, 10, nil)
	if err != nil || len(got) != 2 {
		t.Fatalf("claimed %d (%v), want each user's first", len(got), err)
	}
	if got := marked(); len(got) != 0 {
		t.Errorf("marked sequences %v after the claim, want none", got)
	}
}

// Superseding a user's replayed deliveries at a failing endpoint before
// the first was claimed hands its order_check to the newest, the one that
// goes out instead: otherwise nothing would check it, and when all the
// user's queued deliveries are replayed ones it could be older than a
// state the endpoint has.
func TestSupersedingAMarkedReplayedDeliveryHandsTheMarkToTheNewest(t *testing.T) {
	ctx := context.Background()
	st, tenant := storetest.New(t)
	ep, _ := st.CreateEndpoint(ctx, tenant, "https://a.example/hook", "whsec_dGVzdA==")
	u := uuid.New()
	for _, act := range []string{"InACall", "InAMeeting", "Presenting"} {
		publish(t, st, tenant, u, act)
	}
	testkit.Exec(t, st.Pool(), `UPDATE deliveries SET status = 'dead'`)
	if r, err := st.ReplayEndpoint(ctx, tenant, ep.ID, store.ReplayFilter{}); err != nil || r != (store.Replayed{Replayed: 3}) {
		t.Fatalf("replay: %+v, %v", r, err)
	}
	if by, err := st.SupersedeAtFailingEndpoints(ctx, []uuid.UUID{ep.ID}); err != nil || by[ep.ID] != 2 {
		t.Fatalf("superseded %v, %v; want the two older", by, err)
	}
	var seq int64
	var status string
	if err := st.Pool().QueryRow(ctx, `SELECT e.sequence, d.status FROM deliveries d JOIN presence_events e ON e.id = d.event_id
		WHERE d.order_check AND d.status = 'pending'`).Scan(&seq, &status); err != nil || seq != 3 || status != store.DeliveryPending {
		t.Errorf("the marked delivery: sequence %d %s (%v); want the newest, 3, pending", seq, status, err)
	}
}
