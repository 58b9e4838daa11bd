package graphhook

import (
	"sync"
	"time"

	"presencebridge/internal/store"
)

// knownTTL bounds how long a subscription stays known after deletion.
const knownTTL = time.Minute

// subCache remembers the subscriptions lookups found, by Graph id, so that
// a POST of known subscriptions costs no query.
type subCache struct {
	mu    sync.RWMutex
	found map[string]foundSub
	sweep int // the size at which expired entries are next removed
	now   func() time.Time
}

type foundSub struct {
	key store.SubscriptionKey
	at  time.Time
}

func newSubCache() *subCache {
	return &subCache{found: map[string]foundSub{}, sweep: 1024, now: time.Now}
}

// known returns graphID's subscription if a lookup found it lately.
func (c *subCache) known(graphID string) (store.SubscriptionKey, bool) {
	c.mu.RLock()
	f, ok := c.found[graphID]
	c.mu.RUnlock()
	return f.key, ok && c.now().Sub(f.at) < knownTTL
}

// remember notes a subscription a lookup found. Subscriptions that were
// replaced leave their entries behind; they are removed once the map has
// doubled since the last time.
func (c *subCache) remember(key store.SubscriptionKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.found[key.GraphID] = foundSub{key, now}
	if len(c.found) >= c.sweep {
		for id, f := range c.found {
			if now.Sub(f.at) >= knownTTL {
				delete(c.found, id)
			}
		}
		c.sweep = max(1024, 2*len(c.found))
	}
}
