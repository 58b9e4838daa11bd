package keycache

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Reconnection backoff of the LISTEN connection, as the stream hub's.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Run listens for changes to keys until ctx ends, reconnecting after
// failures, and stamps the use of remembered keys. The cache is trusted
// only while Run listens.
func (c *Cache) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { c.stampUses(ctx) })
	defer wg.Wait()
	backoff := minBackoff
	for {
		established, err := c.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		if established {
			backoff = minBackoff
		}
		c.logger.Warn("keycache: no LISTEN connection; every API key is checked in the database until there is one again", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// listen trusts the cache for as long as one LISTEN connection lasts,
// applying its notifications; it reports whether the connection was
// established, and why it ended.
func (c *Cache) listen(ctx context.Context) (bool, error) {
	l, err := c.open(ctx)
	if err != nil {
		return false, err
	}
	defer l.Close()
	c.trust(true)
	c.observe(listening)
	defer c.observe(lost)
	defer c.trust(false)
	for {
		n, err := l.Wait(ctx)
		if err != nil {
			return true, err
		}
		// The payload is a tenant (store.APIKeyNotifyChannel); anything
		// else is a change we cannot place, so everything goes.
		if t, err := uuid.Parse(n.Payload); err == nil {
			c.Evict(t)
		} else {
			c.flush()
		}
		c.observe(notified)
	}
}

// stampUses stamps the keys stampIfDue hands over, until ctx ends.
func (c *Cache) stampUses(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-c.stamps:
			if err := c.st.StampAPIKeyUse(ctx, id); err != nil && ctx.Err() == nil {
				c.logger.Warn("keycache: stamping an API key's use failed", "key", id, "err", err)
			}
		}
	}
}
