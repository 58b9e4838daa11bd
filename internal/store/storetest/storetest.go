// Package storetest gives tests the product's store on a fresh database:
// the setup that every package's tests need before their first assertion,
// written once so that a change to the store's constructor or to the
// tenants table is made in one place.
package storetest

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/seal"
	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

// New returns the product's store on a fresh, migrated database of its own
// (testkit.DB), sealed with a one-key ring, and the id of one tenant named
// "Contoso". The store's Pool is that database.
func New(t testing.TB) (*store.Store, uuid.UUID) {
	t.Helper()
	st := Open(t, testkit.DB(t))
	return st, Tenant(t, st.Pool(), "Contoso")
}

// Open returns the product's store on pool, sealed with a ring of one new
// key (Ring), for tests that bring their own database.
func Open(t testing.TB, pool *pgxpool.Pool) *store.Store {
	t.Helper()
	return store.New(pool, Ring(t))
}

// Ring returns a seal ring of one newly generated key, "k1", which is active.
func Ring(t testing.TB) *seal.Ring {
	t.Helper()
	k, err := seal.GenerateKey("k1")
	if err != nil {
		t.Fatalf("storetest: generate a seal key: %v", err)
	}
	ring, err := seal.NewRing([]seal.Key{k}, "k1")
	if err != nil {
		t.Fatalf("storetest: seal ring: %v", err)
	}
	return ring
}

// Tenant inserts a tenant named name, with every other column at its
// default, and returns its id. A test that needs more set (a Microsoft
// tenant id, a status) updates the row with testkit.Exec.
func Tenant(t testing.TB, pool *pgxpool.Pool, name string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	if err := pool.QueryRow(context.Background(), `INSERT INTO tenants (name) VALUES ($1) RETURNING id`, name).Scan(&id); err != nil {
		t.Fatalf("storetest: insert tenant %q: %v", name, err)
	}
	return id
}

// Apply records cs in a transaction of its own, as the processor and a
// repair apply a batch (store.Tx.ApplyPresenceBatch), and fails t if it
// cannot.
func Apply(t testing.TB, st *store.Store, cs []store.PresenceChange) {
	t.Helper()
	ctx := t.Context()
	if err := st.InTx(ctx, func(tx store.Tx) error { _, _, err := tx.ApplyPresenceBatch(ctx, cs); return err }); err != nil {
		t.Fatal(err)
	}
}
