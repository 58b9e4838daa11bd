package graphhook

import (
	"sync"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// knownTTL bounds how long a subscription stays known after deletion when
// the change was not announced.
const knownTTL = time.Minute

// Unknown subscriptions — a Graph id with a clientState that matched none —
// are remembered so that forged items repeating them cost no lookup. An id
// can come to match (a subscription Graph already held is adopted after a
// 409; a row being created takes a new clientState), and a remembered
// refusal must never outlive that: every such change is announced
// (store.SubscriptionNotifyChannel) and forgets them all, milliseconds
// after its commit. They are remembered only while that announcement is
// listened to, and for unknownTTL at most, in case a change ever escapes
// it; the first notification of a subscription being created matches it
// by clientState, in the same statement as by id (store.SubscriptionKeys),
// so it is never refused for an id the cache holds. At most unknownSize
// are held: beyond, arbitrary ones give way, an eighth of them at once.
const (
	unknownTTL  = 10 * time.Second
	unknownSize = 10_000
)

// subCache remembers what lookups found: subscriptions by Graph id, and
// the ids with clientStates that matched none.
type subCache struct {
	mu      sync.RWMutex
	found   map[string]foundSub
	sweep   int                  // the size at which expired found entries are next removed
	unknown map[string]time.Time // unknownKey → when found unknown
	// trusted: a LISTEN connection announces every change of subscriptions.
	trusted bool
	gen     uint64 // moves on at every announced change and change of trust
	now     func() time.Time
}

type foundSub struct {
	key store.SubscriptionKey
	at  time.Time
}

func newSubCache() *subCache {
	return &subCache{found: map[string]foundSub{}, sweep: 1024, unknown: map[string]time.Time{}, now: time.Now}
}

// unknownKey names a Graph id with a clientState's hash.
func unknownKey(graphID string, hash []byte) string { return graphID + "\x00" + string(hash) }

// known returns graphID's subscription if a lookup found it lately.
func (c *subCache) known(graphID string) (store.SubscriptionKey, bool) {
	c.mu.RLock()
	f, ok := c.found[graphID]
	c.mu.RUnlock()
	return f.key, ok && c.now().Sub(f.at) < knownTTL
}

// isUnknown reports whether graphID with that clientState's hash matched
// no subscription lately, as far as announced changes tell.
func (c *subCache) isUnknown(graphID string, hash []byte) bool {
	c.mu.RLock()
	at, ok := c.unknown[unknownKey(graphID, hash)]
	trusted := c.trusted
	c.mu.RUnlock()
	return ok && trusted && c.now().Sub(at) < unknownTTL
}

// generation is read before a lookup and given back to learn with its
// answer, so that an answer read before a change announced meanwhile is
// not remembered after it.
func (c *subCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// learn remembers a lookup's answer: keys[i] for queries[i], the zero key
// where none matched. Subscriptions being created are not remembered:
// their id is not stored yet.
func (c *subCache) learn(gen uint64, queries []store.SubscriptionQuery, keys []store.SubscriptionKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	now := c.now()
	for i, k := range keys {
		switch {
		case k.GraphID != "":
			c.found[k.GraphID] = foundSub{k, now}
		case k.ID == uuid.Nil && c.trusted:
			if len(c.unknown) >= unknownSize {
				c.makeRoom(now)
			}
			c.unknown[unknownKey(queries[i].GraphID, queries[i].ClientStateHash)] = now
		}
	}
	if len(c.found) >= c.sweep {
		for id, f := range c.found {
			if now.Sub(f.at) >= knownTTL {
				delete(c.found, id)
			}
		}
		c.sweep = max(1024, 2*len(c.found))
	}
}

// makeRoom removes the expired unknown entries and then arbitrary ones
// until an eighth of unknownSize is free. It scans every entry, under the
// lock every POST takes, so it makes room for many at once: making room
// for one, as it did, scanned 10,000 entries for each id remembered once a
// flood of fresh ids kept them all younger than unknownTTL: 0.65–0.74 s
// for a POST of 1,000 such ids, 1.4–10 ms now (load average 27–34 on 2
// cores; BenchmarkRememberingAThousandFreshUnknownIDsWithTheSetFull), and
// every genuine POST's look in the cache waited for it (FAULTS.md, the
// intake flood).
func (c *subCache) makeRoom(now time.Time) {
	for k, at := range c.unknown {
		if now.Sub(at) >= unknownTTL {
			delete(c.unknown, k)
		}
	}
	for k := range c.unknown {
		if len(c.unknown) <= unknownSize-unknownSize/8 {
			return
		}
		delete(c.unknown, k)
	}
}

// trust says whether changes of subscriptions are being announced; either
// way, what was found unknown is forgotten, as changes may have been
// missed.
func (c *subCache) trust(on bool) {
	c.mu.Lock()
	c.trusted = on
	c.forgetUnknown()
	c.mu.Unlock()
}

// isTrusted reports whether changes of subscriptions are being announced.
func (c *subCache) isTrusted() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.trusted
}

// changed applies an announced change of a subscription whose Graph id was
// previous ("" when it had none): what was known of that id and every
// unknown one are forgotten.
func (c *subCache) changed(previous string) {
	c.mu.Lock()
	delete(c.found, previous)
	c.forgetUnknown()
	c.mu.Unlock()
}

func (c *subCache) forgetUnknown() {
	clear(c.unknown)
	c.gen++
}
