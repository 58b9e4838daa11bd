package keycache

import "github.com/google/uuid"

// Watch returns a channel signalled (coalesced) whenever the keys of
// tenant may have stopped working — a notification about the tenant (a
// key revoked, the tenant suspended or deleted) or one the cache could
// not place — and a function to stop watching. A request that outlives
// its key check, the event stream, authenticates its key again when
// signalled, and ends if the key no longer works: the same announcement
// that stops a suspended tenant's next request ends its open streams,
// within milliseconds of the commit. While the LISTEN connection is down
// nothing is announced; such a request checks its key now and then too
// (the stream at every heartbeat), which then asks the database.
func (c *Cache) Watch(tenant uuid.UUID) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	c.wmu.Lock()
	if c.watchers[tenant] == nil {
		c.watchers[tenant] = map[chan struct{}]struct{}{}
	}
	c.watchers[tenant][ch] = struct{}{}
	c.wmu.Unlock()
	return ch, func() {
		c.wmu.Lock()
		delete(c.watchers[tenant], ch)
		if len(c.watchers[tenant]) == 0 {
			delete(c.watchers, tenant)
		}
		c.wmu.Unlock()
	}
}

// wake signals the watchers of tenant, or every watcher for nil.
func (c *Cache) wake(tenant *uuid.UUID) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for t, set := range c.watchers {
		if tenant != nil && t != *tenant {
			continue
		}
		for ch := range set {
			select {
			case ch <- struct{}{}:
			default: // already signalled
			}
		}
	}
}
