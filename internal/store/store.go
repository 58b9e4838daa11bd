// Package store holds all of Presence Bridge's SQL: one file per aggregate,
// methods on one Store type. Every tenant-scoped query takes the tenant id.
package store

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/seal"
)

// DBTX is what a query needs: the pool, a connection or a transaction, so
// that callers decide what commits together.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Store is the database, plus the key ring that seals secrets in it.
type Store struct {
	pool *pgxpool.Pool
	ring *seal.Ring
}

// New returns a Store over pool that seals with ring.
func New(pool *pgxpool.Pool, ring *seal.Ring) *Store {
	return &Store{pool: pool, ring: ring}
}

// Pool is the underlying pool, for transactions spanning several calls.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
