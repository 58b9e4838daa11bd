package certs

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/notification"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func newStore(t *testing.T) (*store.Store, *pgxpool.Pool) {
	t.Helper()
	pool := testkit.DB(t)
	return storetest.Open(t, pool), pool
}

func TestOneActiveCertificateRotatedBeforeItsEnd(t *testing.T) {
	st, pool := newStore(t)
	ctx := context.Background()
	now := time.Now()
	m := New(st, func() time.Time { return now })

	// Several processes asking at once agree on one certificate.
	var wg sync.WaitGroup
	ids := make([]string, 4)
	for i := range ids {
		wg.Go(func() {
			k, err := m.Active(ctx)
			if err != nil {
				t.Error(err)
			}
			ids[i] = k.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] || id == "" {
			t.Fatalf("ids = %v, want one certificate", ids)
		}
	}
	first, _ := m.Active(ctx)
	if first.Private.N.BitLen() != 2048 || first.Certificate.NotAfter.Before(now.Add(Lifetime-time.Hour)) {
		t.Errorf("certificate: %d bits, not after %v", first.Private.N.BitLen(), first.Certificate.NotAfter)
	}
	var der []byte
	pool.QueryRow(ctx, `SELECT x.ciphertext FROM secrets x JOIN encryption_certs c ON c.private_key_secret_id = x.id`).Scan(&der)
	if len(der) == 0 {
		t.Fatal("private key not sealed in secrets")
	}

	// Close to its end, a new one is made; both decrypt until the old retires.
	now = now.Add(Lifetime - Renew + time.Hour)
	second, err := m.Active(ctx)
	if err != nil || second.ID == first.ID {
		t.Fatalf("after %v: %s %v, want a new certificate", Lifetime-Renew, second.ID, err)
	}
	keys := notification.NewKeys()
	if err := m.Load(ctx, keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []notification.Key{first, second} {
		ec, _ := notification.Encrypt(k, []byte(`{"id":"x"}`))
		if _, err := keys.Decrypt(&ec); err != nil {
			t.Errorf("certificate %s does not decrypt after Load: %v", k.ID, err)
		}
	}

	// A subscription still names the old certificate: it stays.
	tenant := storetest.Tenant(t, pool, "C")
	var monitor [16]byte
	if err := pool.QueryRow(ctx, `INSERT INTO monitors (tenant_id, upn) VALUES ($1, 'm@c.example') RETURNING id`, tenant).Scan(&monitor); err != nil {
		t.Fatal(err)
	}
	testkit.Exec(t, pool, `INSERT INTO subscriptions (tenant_id, monitor_id, resource, cert_key_id) VALUES ($1, $2, 'r', $3)`, tenant, monitor, first.ID)
	if n, err := m.Retire(ctx); err != nil || n != 0 {
		t.Errorf("retired %d (%v) while a subscription uses the old certificate", n, err)
	}
	testkit.Exec(t, pool, `UPDATE subscriptions SET cert_key_id = $1`, second.ID)
	if n, _ := m.Retire(ctx); n != 1 {
		t.Errorf("retired %d, want the unused old certificate", n)
	}
	m.Load(ctx, keys)
	ec, _ := notification.Encrypt(first, []byte(`{}`))
	if _, err := keys.Decrypt(&ec); err == nil {
		t.Error("a retired certificate still decrypts after Load")
	}
}

// A new certificate is announced on NotifyChannel with its id (at its
// commit, so a listener that loads it finds the row); reusing the active
// one announces nothing.
func TestANewCertificateIsAnnouncedOnceWithItsID(t *testing.T) {
	st, pool := newStore(t)
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		t.Fatal(err)
	}
	m := New(st, nil)
	k, err := m.Active(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n, err := conn.Conn().WaitForNotification(wait)
	if err != nil || n.Payload != k.ID {
		t.Fatalf("notification = %+v, %v; want certificate %s announced", n, err, k.ID)
	}
	keys := notification.NewKeys()
	if err := m.Load(ctx, keys); err != nil {
		t.Fatal(err)
	}
	ec, _ := notification.Encrypt(k, []byte(`{}`))
	if _, err := keys.Decrypt(&ec); err != nil {
		t.Errorf("the announced certificate does not load: %v", err)
	}

	if again, err := m.Active(ctx); err != nil || again.ID != k.ID {
		t.Fatalf("Active again = %s %v, want %s", again.ID, err, k.ID)
	}
	quiet, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	if n, err := conn.Conn().WaitForNotification(quiet); err == nil {
		t.Errorf("reusing the active certificate announced %q", n.Payload)
	}
}
