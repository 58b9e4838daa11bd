package stream

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/certs"
	"presencebridge/internal/intake"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("no signal for %s", what)
	}
}

func TestHubWakesByChannelAndTenant(t *testing.T) {
	st := storetest.Open(t, testkit.DB(t))
	pool := st.Pool()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := NewHub(st, nil)
	inbox, stop1 := h.SubscribeInbox()
	defer stop1()
	changes, stop2 := h.SubscribeChanges()
	defer stop2()
	a, b := uuid.New(), uuid.New()
	tenantA, stop3 := h.Subscribe(a)
	defer stop3()
	tenantB, stop4 := h.Subscribe(b)
	defer stop4()
	go h.Run(ctx)
	// Run wakes everyone once it listens (anything before LISTEN).
	for name, ch := range map[string]<-chan struct{}{"inbox": inbox, "changes": changes, "a": tenantA, "b": tenantB} {
		waitFor(t, ch, name+" at start")
	}

	c := intake.NewCommitter(pool, intake.CommitterOptions{})
	go c.Run(ctx)
	if err := c.Commit(ctx, intake.Row{Kind: "change", Payload: []byte(`{"value":[]}`)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, inbox, "an inbox commit")

	if _, err := pool.Exec(ctx, `SELECT pg_notify($1, $2)`, store.PresenceNotifyChannel, a.String()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, tenantA, "tenant a's change")
	waitFor(t, changes, "any change")
	select {
	case <-tenantB:
		t.Error("tenant b was woken by tenant a's change")
	case <-time.After(200 * time.Millisecond):
	}
}

// A certificate made anywhere wakes the certificate loaders (at the
// certificate's commit), not the event streams.
func TestHubWakesCertificateLoadersWhenACertificateIsMade(t *testing.T) {
	st := storetest.Open(t, testkit.DB(t))
	pool := st.Pool()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := NewHub(st, nil)
	certsCh, stop1 := h.SubscribeCerts()
	defer stop1()
	tenant, stop2 := h.Subscribe(uuid.New())
	defer stop2()
	go h.Run(ctx)
	waitFor(t, certsCh, "certificates at start") // a reconnect may have missed one
	waitFor(t, tenant, "the tenant at start")

	if _, err := certs.New(storetest.Open(t, pool), nil).Active(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, certsCh, "a new certificate")
	select {
	case <-tenant:
		t.Error("a tenant's event stream was woken by a certificate")
	case <-time.After(200 * time.Millisecond):
	}
}
