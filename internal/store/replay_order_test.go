package store_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

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
