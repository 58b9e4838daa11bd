package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TenantLock is a tenant's engine lock: a session advisory lock held on a
// pooled connection of its own. It ends with the connection, so a killed
// process frees the tenant at once
// (https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS).
type TenantLock struct {
	conn *pgxpool.Conn
	key  int64
}

// tenantLockKey is the advisory lock key of a tenant's engine lock; every
// version of the engine must derive the same one.
func tenantLockKey(tenantID uuid.UUID) int64 {
	h := fnv.New64a()
	h.Write([]byte("presencebridge/engine/" + tenantID.String()))
	return int64(h.Sum64())
}

// TryTenantLock takes the tenant's engine lock without waiting; ok is
// false when another session holds it.
func (s *Store) TryTenantLock(ctx context.Context, tenantID uuid.UUID) (l *TenantLock, ok bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, wrap("try tenant lock", err)
	}
	l = &TenantLock{conn: conn, key: tenantLockKey(tenantID)}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, l.key).Scan(&ok); err != nil {
		// The lock may have been taken before the answer was lost.
		l.discard()
		return nil, false, wrap("try tenant lock", err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return l, true, nil
}

// Unlock releases the lock and returns the connection to the pool. When
// the unlock fails the connection is closed instead: advisory locks are
// re-entrant per session, so a pooled connection still holding the lock
// would keep the tenant locked for every other process while this one
// took it again unawares; closing the session ends the lock with it.
func (l *TenantLock) Unlock(ctx context.Context) error {
	var released bool
	err := l.conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, l.key).Scan(&released)
	if err == nil && !released {
		err = errors.New("not held by this session")
	}
	if err != nil {
		l.discard()
		return fmt.Errorf("store: tenant lock not released, its connection closed: %w", err)
	}
	l.conn.Release()
	return nil
}

// discard takes the connection out of the pool and closes it.
func (l *TenantLock) discard() {
	c := l.conn.Hijack()
	// A context of its own: the caller's may be the one that failed. The
	// socket is closed even when the goodbye cannot be sent in time.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Close(ctx)
}
