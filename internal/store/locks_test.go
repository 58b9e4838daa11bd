package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

// lockStores are two processes' stores over one database: a session
// advisory lock is re-entrant, so only another pool shows who holds it.
func lockStores(t *testing.T) (*store.Store, *store.Store) {
	t.Helper()
	pool := testkit.DB(t)
	other, err := pgxpool.New(t.Context(), pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	return store.New(pool, nil), store.New(other, nil)
}

func TestATenantLockIsHeldByOneProcessUntilUnlocked(t *testing.T) {
	ctx := context.Background()
	a, b := lockStores(t)
	tenant, another := uuid.New(), uuid.New()
	l, ok, err := a.TryTenantLock(ctx, tenant)
	if err != nil || !ok {
		t.Fatalf("first lock: %v, %v", ok, err)
	}
	if _, ok, err := b.TryTenantLock(ctx, tenant); err != nil || ok {
		t.Fatalf("second process took a held lock: %v, %v", ok, err)
	}
	lo, ok, err := b.TryTenantLock(ctx, another)
	if err != nil || !ok {
		t.Fatalf("another tenant's lock: %v, %v", ok, err)
	}
	if err := lo.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	lb, ok, err := b.TryTenantLock(ctx, tenant)
	if err != nil || !ok {
		t.Fatalf("lock after unlock: %v, %v", ok, err)
	}
	if err := lb.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

// A failed unlock must not hand the connection back to the pool still
// holding the lock: the tenant would stay locked for every other process.
func TestAFailedUnlockClosesTheConnectionAndFreesTheTenant(t *testing.T) {
	ctx := context.Background()
	a, b := lockStores(t)
	tenant := uuid.New()
	l, ok, err := a.TryTenantLock(ctx, tenant)
	if err != nil || !ok {
		t.Fatalf("lock: %v, %v", ok, err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.Unlock(cancelled); err == nil {
		t.Fatal("unlock with a cancelled context reported success")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		lb, ok, err := b.TryTenantLock(ctx, tenant)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			if err := lb.Unlock(ctx); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the tenant stayed locked after a failed unlock")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var held int
	if err := a.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&held); err != nil {
		t.Fatal(err)
	}
	if held != 0 {
		t.Fatalf("%d advisory locks still held", held)
	}
}
