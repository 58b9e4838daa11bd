package graphhook

import (
	"context"

	"github.com/jackc/pgx/v5/pgconn"

	"presencebridge/internal/store"
)

// Listener opens LISTEN connections (*store.Store).
type Listener interface {
	Listen(ctx context.Context, channels ...string) (*store.Listener, error)
}

// Run follows the changes of subscriptions (store.SubscriptionNotifyChannel)
// until ctx ends, reconnecting after failures. Ids found unknown are
// remembered only while it listens: without Deps.Changes, or between a
// failure and the next connection, every one is looked up.
func (h *Handler) Run(ctx context.Context) {
	if h.d.Changes == nil {
		return
	}
	store.KeepListening(ctx, store.Following{
		Open: func(ctx context.Context) (store.Waiter, error) {
			l, err := h.d.Changes.Listen(ctx, store.SubscriptionNotifyChannel)
			if err != nil {
				return nil, err // not a nil *store.Listener in a Waiter
			}
			return l, nil
		},
		Up:      func() { h.cache.trust(true) },
		Notify:  func(n *pgconn.Notification) { h.cache.changed(n.Payload) },
		Down:    func() { h.cache.trust(false) },
		Logger:  h.d.Logger,
		Warning: "notification: no LISTEN connection; unknown subscription ids are looked up every time until there is one again",
	})
}
