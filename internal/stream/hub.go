// Package stream wakes whoever waits for the database: event-stream
// readers when their tenant has new presence events, the processor when
// notifications reach the inbox or a new encryption certificate is made,
// the deliverer on any change. One LISTEN
// connection per process serves them all; polling remains only as a
// fallback, so a change travels from Graph to the webhook in milliseconds.
package stream

import (
	"context"
	"log/slog"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"presencebridge/internal/certs"
	"presencebridge/internal/store"
)

// Hub fans notifications out to subscribers.
type Hub struct {
	st     *store.Store
	logger *slog.Logger
	mu     sync.Mutex
	subs   map[uuid.UUID]map[chan struct{}]struct{}
	inbox  map[chan struct{}]struct{} // woken by every commit to the inbox
	any    map[chan struct{}]struct{} // woken by every presence change
	certs  map[chan struct{}]struct{} // woken by every new encryption certificate
}

// NewHub returns a Hub; call Run.
func NewHub(st *store.Store, logger *slog.Logger) *Hub {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Hub{st: st, logger: logger, subs: map[uuid.UUID]map[chan struct{}]struct{}{},
		inbox: map[chan struct{}]struct{}{}, any: map[chan struct{}]struct{}{}, certs: map[chan struct{}]struct{}{}}
}

// Subscribe returns a channel that receives a signal (coalesced) whenever
// the tenant may have new events, and a function to stop.
func (h *Hub) Subscribe(tenant uuid.UUID) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.subs[tenant] == nil {
		h.subs[tenant] = map[chan struct{}]struct{}{}
	}
	h.subs[tenant][ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs[tenant], ch)
		if len(h.subs[tenant]) == 0 {
			delete(h.subs, tenant)
		}
		h.mu.Unlock()
	}
}

// SubscribeInbox wakes the processor when notifications were committed.
func (h *Hub) SubscribeInbox() (<-chan struct{}, func()) { return h.subscribeSet(h.inbox) }

// SubscribeChanges wakes the deliverer on any tenant's presence change.
func (h *Hub) SubscribeChanges() (<-chan struct{}, func()) { return h.subscribeSet(h.any) }

// SubscribeCerts wakes the processor's certificate loader when another
// instance (or this one) made an encryption certificate.
func (h *Hub) SubscribeCerts() (<-chan struct{}, func()) { return h.subscribeSet(h.certs) }

func (h *Hub) subscribeSet(set map[chan struct{}]struct{}) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	set[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(set, ch)
		h.mu.Unlock()
	}
}

func signal(set map[chan struct{}]struct{}) {
	for ch := range set {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (h *Hub) wakeSet(set map[chan struct{}]struct{}) {
	h.mu.Lock()
	signal(set)
	h.mu.Unlock()
}

func (h *Hub) wake(tenant *uuid.UUID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	signal(h.any)
	if tenant == nil {
		signal(h.inbox)
		signal(h.certs)
	}
	for t, set := range h.subs {
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

// Run listens until ctx ends, reconnecting after failures; after a
// reconnect every subscriber is woken, as notifications may have been
// missed meanwhile.
func (h *Hub) Run(ctx context.Context) {
	store.KeepListening(ctx, store.Following{
		Open: func(ctx context.Context) (store.Waiter, error) {
			l, err := h.st.Listen(ctx, store.PresenceNotifyChannel, store.InboxNotifyChannel, certs.NotifyChannel)
			if err != nil {
				return nil, err // not a nil *store.Listener in a Waiter
			}
			return l, nil
		},
		Up: func() { h.wake(nil) }, // anything committed before LISTEN took effect
		Notify: func(n *pgconn.Notification) {
			switch n.Channel {
			case store.InboxNotifyChannel:
				h.wakeSet(h.inbox)
			case certs.NotifyChannel:
				h.wakeSet(h.certs)
			default:
				if t, err := uuid.Parse(n.Payload); err == nil {
					h.wake(&t)
				}
			}
		},
		Lost: func(err error) {
			h.logger.Warn("stream: LISTEN connection lost; reconnecting", "err", err)
			h.wake(nil)
		},
	})
}
