package graphhook

import (
	"context"
	"time"

	"presencebridge/internal/store"
)

// Listener opens LISTEN connections (*store.Store).
type Listener interface {
	Listen(ctx context.Context, channels ...string) (*store.Listener, error)
}

// Reconnection backoff of the LISTEN connection, as the stream hub's.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Run follows the changes of subscriptions (store.SubscriptionNotifyChannel)
// until ctx ends, reconnecting after failures. Ids found unknown are
// remembered only while it listens: without Deps.Changes, or between a
// failure and the next connection, every one is looked up.
func (h *Handler) Run(ctx context.Context) {
	if h.d.Changes == nil {
		return
	}
	backoff := minBackoff
	for {
		established, err := h.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		if established {
			backoff = minBackoff
		}
		h.d.Logger.Warn("notification: no LISTEN connection; unknown subscription ids are looked up every time until there is one again", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// listen applies one LISTEN connection's notifications for as long as it
// lasts; it reports whether it was established, and why it ended.
func (h *Handler) listen(ctx context.Context) (bool, error) {
	l, err := h.d.Changes.Listen(ctx, store.SubscriptionNotifyChannel)
	if err != nil {
		return false, err
	}
	defer l.Close()
	h.cache.trust(true)
	defer h.cache.trust(false)
	for {
		n, err := l.Wait(ctx)
		if err != nil {
			return true, err
		}
		h.cache.changed(n.Payload)
	}
}
