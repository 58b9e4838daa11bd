package keycache

import (
	"context"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"presencebridge/internal/store"
)

// Run listens for changes to keys until ctx ends, reconnecting after
// failures, and stamps the use of remembered keys. The cache is trusted
// only while Run listens.
func (c *Cache) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { c.stampUses(ctx) })
	defer wg.Wait()
	store.KeepListening(ctx, store.Following{
		Open: func(ctx context.Context) (store.Waiter, error) { return c.open(ctx) },
		Up: func() {
			c.trust(true)
			c.observe(listening)
		},
		Notify: func(n *pgconn.Notification) {
			// The payload is a tenant (store.APIKeyNotifyChannel); anything
			// else is a change we cannot place, so everything goes.
			if t, err := uuid.Parse(n.Payload); err == nil {
				c.Evict(t)
			} else {
				c.flush()
			}
			c.observe(notified)
		},
		Down: func() {
			c.trust(false)
			c.observe(lost)
		},
		Logger:  c.logger,
		Warning: "keycache: no LISTEN connection; every API key is checked in the database until there is one again",
	})
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
