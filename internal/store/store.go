// Package store holds all of Presence Bridge's SQL: one file per aggregate,
// methods on one Store type. Every tenant-scoped query takes the tenant id.
//
// A Store's methods run on the connection pool, each statement on its own.
// What must commit together runs in st.InTx(ctx, func(tx store.Tx) error),
// where the same methods, and the few that only make sense inside a
// transaction (row locks, claims), run in that transaction:
//
//	err := st.InTx(ctx, func(tx store.Tx) error {
//		if err := tx.PutMappingRules(ctx, tenant, rules); err != nil {
//			return err
//		}
//		return tx.Audit(ctx, &tenant, actor, "rules.update", detail)
//	})
package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/seal"
)

// querier is what a query needs: the pool or one transaction. Each Store
// runs its statements on one of them (see InTx).
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Store is the database, plus the key ring that seals secrets in it. Its
// methods run on the pool, each statement committing on its own; within
// InTx they run in one transaction.
type Store struct {
	pool *pgxpool.Pool
	db   querier
	ring *seal.Ring
}

// Tx is the Store bound to one transaction: every method of Store run on it
// takes part in that transaction, and the methods defined on Tx (row locks,
// claims, NOTIFYs at commit) exist only there, because they mean nothing
// outside one.
type Tx struct{ *Store }

// New returns a Store over pool that seals with ring.
func New(pool *pgxpool.Pool, ring *seal.Ring) *Store {
	return &Store{pool: pool, db: pool, ring: ring}
}

// InTx runs fn in one transaction: committed when fn returns nil, rolled
// back when it returns an error or panics. Called on a Tx, it runs fn in a
// savepoint of the enclosing transaction.
func (s *Store) InTx(ctx context.Context, fn func(tx Tx) error) error {
	return pgx.BeginFunc(ctx, s.db, func(t pgx.Tx) error {
		return fn(Tx{&Store{pool: s.pool, db: t, ring: s.ring}})
	})
}

// Pool is the underlying pool: for infrastructure that manages its own
// connections (the job queue, LISTEN) and for tests that inspect tables.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// wrap names the operation that failed, keeping err's identity (errors.Is
// still finds pgx.ErrNoRows and our sentinels); nil stays nil.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", op, err)
}
