package store_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
)

func TestStoredPresencesAndPendingDeliveriesCountEveryTenantsRows(t *testing.T) {
	ctx := context.Background()
	st, tenant, ep := oneEndpoint(t, true)
	count := func() (int, int) {
		t.Helper()
		stored, err := st.StoredPresences(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pending, err := st.PendingDeliveries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return stored, pending
	}
	if s, p := count(); s != 0 || p != 0 {
		t.Fatalf("before any change: %d presences stored, %d deliveries pending; want 0, 0", s, p)
	}
	ann, bob := uuid.New(), uuid.New()
	publish(t, st, tenant, ann, "InACall")
	publish(t, st, tenant, bob, "InACall")
	publish(t, st, tenant, ann, "Available")
	if s, p := count(); s != 2 || p != 3 {
		t.Fatalf("after three changes of two users: %d presences stored, %d deliveries pending; want 2, 3", s, p)
	}
	if err := st.DisableEndpoint(ctx, ep.ID, "the endpoint answered 410 Gone"); err != nil {
		t.Fatal(err)
	}
	// A disabled endpoint's deliveries are kept dead, never tried: nothing
	// is left to send.
	if s, p := count(); s != 2 || p != 0 {
		t.Fatalf("the endpoint disabled: %d presences stored, %d deliveries pending; want 2, 0", s, p)
	}
}
