package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

func TestSubscriptionKeysFindsByGraphIDOrTheClientStateOfOneBeingCreatedInTheQueriesOrder(t *testing.T) {
	ctx := context.Background()
	pool := testkit.DB(t)
	st := storetest.Open(t, pool)
	tenant := storetest.Tenant(t, pool, "Contoso")
	made, err := st.AddMonitor(ctx, tenant, "made@contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	creating, err := st.AddMonitor(ctx, tenant, "creating@contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	madeID, err := st.BeginSubscription(ctx, tenant, made.ID, "r", store.ClientStateHash("a"), "cert", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SubscriptionCreated(ctx, madeID, "sub-a", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	creatingID, err := st.BeginSubscription(ctx, tenant, creating.ID, "r", store.ClientStateHash("b"), "cert", 1)
	if err != nil {
		t.Fatal(err)
	}

	keys, err := st.SubscriptionKeys(ctx, []store.SubscriptionQuery{
		{GraphID: "sub-x", ClientStateHash: store.ClientStateHash("a")}, // neither
		{GraphID: "sub-new", ClientStateHash: store.ClientStateHash("b")},
		{GraphID: "sub-a", ClientStateHash: store.ClientStateHash("forged")}, // by id: the caller compares
		{GraphID: "sub-a", ClientStateHash: store.ClientStateHash("a")},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id      uuid.UUID
		graphID string
	}{{uuid.Nil, ""}, {creatingID, ""}, {madeID, "sub-a"}, {madeID, "sub-a"}}
	if len(keys) != len(want) {
		t.Fatalf("%d keys for %d queries", len(keys), len(want))
	}
	for i, w := range want {
		if keys[i].ID != w.id || keys[i].GraphID != w.graphID || (w.id != uuid.Nil && keys[i].TenantID != tenant) {
			t.Errorf("query %d: %+v, want id %v graph id %q", i, keys[i], w.id, w.graphID)
		}
	}
}

// Every change of what notifications are matched against is announced,
// with the previous Graph id; a renewal is not such a change.
func TestChangesOfWhatNotificationsMatchAreAnnouncedAndRenewalsAreNot(t *testing.T) {
	ctx := context.Background()
	pool := testkit.DB(t)
	st := storetest.Open(t, pool)
	tenant := storetest.Tenant(t, pool, "Contoso")
	m, err := st.AddMonitor(ctx, tenant, "m@contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	l, err := st.Listen(ctx, store.SubscriptionNotifyChannel)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	next := func(what string) string {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		n, err := l.Wait(wctx)
		if err != nil {
			t.Fatalf("%s: no announcement: %v", what, err)
		}
		return n.Payload
	}

	id, err := st.BeginSubscription(ctx, tenant, m.ID, "r", store.ClientStateHash("a"), "cert", 1)
	if err != nil {
		t.Fatal(err)
	}
	if p := next("created"); p != "" {
		t.Errorf("a new row announced %q, want ''", p)
	}
	if err := st.SubscriptionCreated(ctx, id, "sub-a", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if p := next("its id stored"); p != "" {
		t.Errorf("storing the id announced %q, want the previous id ''", p)
	}
	if err := st.SubscriptionRenewed(ctx, id, time.Now().Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.AdoptSubscription(ctx, id, "sub-b", store.ClientStateHash("b"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if p := next("adopted"); p != "sub-a" { // not the renewal's: it announced nothing
		t.Errorf("the adoption announced %q, want the previous id sub-a", p)
	}
	if err := st.DropSubscriptionRow(ctx, id); err != nil {
		t.Fatal(err)
	}
	if p := next("dropped"); p != "sub-b" {
		t.Errorf("the deletion announced %q, want sub-b", p)
	}
}
