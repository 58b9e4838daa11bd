package graphsim

import (
	"crypto/sha256"
	"sync"
	"time"
)

// authCache remembers the access tokens Authenticate verified, until they
// expire by the sim's clock: a product sends the same token with every
// request for an hour, and checking its RS256 signature and parsing its
// claims again was 13 % of graphsim's CPU in a cold start of 100,000 users
// (every inner request of a $batch is authenticated with the outer one's
// token). The signer is part of what is remembered, so a token is never
// taken on the word of a key the sim no longer signs with (a snapshot
// restored with another key). Bounded: when full it forgets everything.
type authCache struct {
	mu   sync.Mutex
	byID map[[sha256.Size]byte]authenticated
}

type authenticated struct {
	signer  *signer
	expires time.Time
	p       Principal
}

// maxAuthenticated bounds authCache: tokens for 1,000 tenants' apps and
// every monitor, with room for an hour's renewals.
const maxAuthenticated = 16384

func (c *authCache) get(raw string, sg *signer, now time.Time) (*Principal, bool) {
	sum := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	a, ok := c.byID[sum]
	c.mu.Unlock()
	if !ok || a.signer != sg || !now.Before(a.expires) {
		return nil, false
	}
	p := a.p // a copy: callers get a Principal of their own
	return &p, true
}

func (c *authCache) put(raw string, sg *signer, expires time.Time, p *Principal) {
	sum := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byID == nil || len(c.byID) >= maxAuthenticated {
		c.byID = make(map[[sha256.Size]byte]authenticated)
	}
	c.byID[sum] = authenticated{signer: sg, expires: expires, p: *p}
}
