// Package keycache remembers the API keys that authenticated, so that the
// tenant API checks the key of a request without a query, and forgets a
// tenant's keys the moment the database announces a change that could make
// them stop working.
//
// Every instance of the web role has its own Cache; what keeps them right
// is LISTEN/NOTIFY. Triggers announce every revocation, tenant status
// change and deletion (store.APIKeyNotifyChannel) in the transaction that
// makes it, and each Cache evicts the tenant's keys when the notification
// arrives, milliseconds after the commit. What a Cache holds is trusted
// only while its LISTEN connection is up: before it is established, and
// from the moment it fails until it is back, every request is checked in
// the database, and a reconnect starts from an empty cache, since
// notifications may have been missed meanwhile. Entries are also read
// again after MaxAge, and at most Size are held, in case a change ever
// escapes the triggers.
package keycache

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// Defaults of Options.
const (
	DefaultSize   = 10_000
	DefaultMaxAge = 5 * time.Minute
)

// Options tune a Cache; the zero value is the product's.
type Options struct {
	// Size is the most keys held (default DefaultSize); a new one beyond
	// it displaces an arbitrary one. Only keys that authenticated are
	// held: a bad key costs a query, as it always has, and no memory.
	Size int
	// MaxAge is the longest a key is trusted before it is read again
	// (default DefaultMaxAge).
	MaxAge time.Duration
	// Logger receives the LISTEN connection's failures. Nil discards them.
	Logger *slog.Logger
}

// Cache holds the keys that authenticated, by the SHA-256 of their secret
// (never the secret). Call Run for the life of the process; until it
// listens, Authenticate queries the database every time.
type Cache struct {
	st     *store.Store
	size   int
	maxAge time.Duration
	logger *slog.Logger
	stamps chan uuid.UUID // keys whose use is due a stamp (Run's)

	now     func() time.Time                                // the clock
	open    func(ctx context.Context) (store.Waiter, error) // LISTEN on store.APIKeyNotifyChannel
	observe func(event)                                     // tests: what the listener did

	mu      sync.RWMutex
	entries map[[sha256.Size]byte]*entry
	trusted bool   // LISTEN is up and nothing was missed since the last flush
	gen     uint64 // moves on at every eviction and change of trust

	wmu      sync.Mutex
	watchers map[uuid.UUID]map[chan struct{}]struct{} // Watch's
}

// entry is a key that authenticated: usable then, it stays usable until a
// notification says otherwise, its expiry passes or it is MaxAge old.
type entry struct {
	key     store.APIKey
	loaded  time.Time
	stamped atomic.Int64 // when its use was last stamped, as far as we know (Unix ns)
}

// event is what the listener did, for tests.
type event int

const (
	listening event = iota // connected, flushed, trusted
	lost                   // the connection failed: untrusted
	notified               // a notification was applied
)

// New returns a Cache over st; call Run.
func New(st *store.Store, o Options) *Cache {
	if o.Size <= 0 {
		o.Size = DefaultSize
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Cache{
		st: st, size: o.Size, maxAge: o.MaxAge, logger: o.Logger, stamps: make(chan uuid.UUID, 256),
		now: time.Now,
		open: func(ctx context.Context) (store.Waiter, error) {
			l, err := st.Listen(ctx, store.APIKeyNotifyChannel)
			if err != nil {
				return nil, err
			}
			return l, nil
		},
		observe:  func(event) {},
		entries:  map[[sha256.Size]byte]*entry{},
		watchers: map[uuid.UUID]map[chan struct{}]struct{}{},
	}
}

// Authenticate returns the key secret is, with store.AuthenticateAPIKey's
// errors: from memory when the cache is trusted and holds it (checking its
// expiry against the clock), else from the database, remembering it when
// it is good. A remembered key's use is stamped by Run, when due.
func (c *Cache) Authenticate(ctx context.Context, secret string) (store.APIKey, error) {
	h := sha256.Sum256([]byte(secret))
	now := c.now()
	c.mu.RLock()
	e, trusted, gen := c.entries[h], c.trusted, c.gen
	c.mu.RUnlock()
	if e != nil && trusted && now.Sub(e.loaded) < c.maxAge {
		if e.key.ExpiresAt != nil && !now.Before(*e.key.ExpiresAt) {
			return store.APIKey{}, store.ErrBadAPIKey
		}
		c.stampIfDue(e, now)
		return e.key, nil
	}
	k, err := c.st.AuthenticateAPIKey(ctx, secret)
	if err == nil && trusted {
		c.remember(h, k, gen, now)
	}
	return k, err
}

// remember holds k, read from the database while the cache was at
// generation gen — unless a notification came meanwhile, which may be
// about a change the read did not see, or trust was lost.
func (c *Cache) remember(h [sha256.Size]byte, k store.APIKey, gen uint64, now time.Time) {
	e := &entry{key: k, loaded: now}
	stamped := now // AuthenticateAPIKey stamped it when due
	if !store.APIKeyUseDue(k.LastUsedAt, now) {
		stamped = *k.LastUsedAt
	}
	e.stamped.Store(stamped.UnixNano())
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.trusted || c.gen != gen {
		return
	}
	if _, ok := c.entries[h]; !ok && len(c.entries) >= c.size {
		for old := range c.entries {
			delete(c.entries, old)
			break
		}
	}
	c.entries[h] = e
}

// stampIfDue hands e's use to Run to stamp, at most once per
// store.APIKeyStampInterval, so that the request does not wait for it.
func (c *Cache) stampIfDue(e *entry, now time.Time) {
	last := e.stamped.Load()
	if now.UnixNano()-last <= int64(store.APIKeyStampInterval) || !e.stamped.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	select {
	case c.stamps <- e.key.ID:
	default: // Run is behind: a use after the next interval stamps it
	}
}

// Listening reports whether the cache is trusted: its LISTEN connection
// is up. When it is not, every key is checked in the database.
func (c *Cache) Listening() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.trusted
}

// Evict forgets every key of tenant. The notifications do it; the API
// calls it too when it revokes a key, so that its own next request is
// refused without waiting for the notification's round trip.
func (c *Cache) Evict(tenant uuid.UUID) {
	c.mu.Lock()
	c.gen++
	for h, e := range c.entries {
		if e.key.TenantID == tenant {
			delete(c.entries, h)
		}
	}
	c.mu.Unlock()
	c.wake(&tenant)
}

// trust marks the cache trusted (flushing it: notifications may have been
// missed while it was not) or not.
func (c *Cache) trust(up bool) {
	c.mu.Lock()
	c.gen++
	if up {
		clear(c.entries)
	}
	c.trusted = up
	c.mu.Unlock()
}

// flush forgets every key.
func (c *Cache) flush() {
	c.mu.Lock()
	c.gen++
	clear(c.entries)
	c.mu.Unlock()
	c.wake(nil)
}
