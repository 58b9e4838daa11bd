package graphhook

import (
	"context"
	"crypto/subtle"
	"fmt"

	"github.com/google/uuid"

	"presencebridge/internal/notification"
	"presencebridge/internal/store"
)

// Why an item is refused at the door (the outcome label of
// presencebridge_graph_notification_items_total; "accepted" for the others).
const (
	rejectMalformed         = "malformed"
	rejectUnknown           = "unknown_subscription"
	rejectClientStateAbsent = "client_state_missing"
	rejectClientState       = "client_state_mismatch"
	// rejectOverLimit counts the items of a POST refused whole for
	// holding more than MaxItems.
	rejectOverLimit = "over_limit"
)

// sorted is a POST's items after the door: what to commit, by kind, and
// what was refused.
type sorted struct {
	change, lifecycle [][]byte // the items as sent
	rejected          rejections
}

// size is the bytes of kind's items as sent.
func (s *sorted) size(kind string) int {
	items, n := s.change, 0
	if kind == "lifecycle" {
		items = s.lifecycle
	}
	for _, raw := range items {
		n += len(raw)
	}
	return n
}

// checkedItem is one item of a POST on its way through the door.
type checkedItem struct {
	n      notification.Notification
	hash   []byte // of its clientState
	reason string // why it is refused; "" accepts it
	query  int    // its place in the POST's lookup, plus one; 0: none
}

// check sorts a POST's items. Each must name a subscription and carry its
// clientState (constant-time compare of the hashes). Subscriptions the
// cache knows cost nothing; all the others the POST names are looked up
// together, in one statement.
//
// A POST is never given up on after so many refusals. That would save
// nothing — refusing an item costs no more than accepting one — and it
// could not be answered well: a 202 would lose the genuine items after
// the cut, a 5xx would make Graph send the whole POST again for hours
// whenever it carries a subscription we no longer know (deleted here, not
// yet at Graph), its genuine items committed again each time.
func (h *Handler) check(ctx context.Context, body []bodyItem) (*sorted, error) {
	items := make([]checkedItem, len(body))
	var queries []store.SubscriptionQuery
	asked := map[string]int{} // unknownKey → place in queries, plus one
	var w walk
	for i := range body {
		it := &items[i]
		it.n = body[i].n
		if body[i].malformed || it.n.SubscriptionID == "" {
			it.reason = rejectMalformed
			continue
		}
		if it.reason = w.unstorable(body[i].raw); it.reason != "" {
			continue
		}
		if it.n.ClientState == "" {
			it.reason = rejectClientStateAbsent
			continue
		}
		it.hash = store.ClientStateHash(it.n.ClientState)
		if key, ok := h.cache.known(it.n.SubscriptionID); ok {
			it.reason = matches(key, it.hash)
			continue
		}
		if h.cache.isUnknown(it.n.SubscriptionID, it.hash) {
			it.reason = rejectUnknown
			continue
		}
		q := unknownKey(it.n.SubscriptionID, it.hash)
		if it.query = asked[q]; it.query == 0 {
			queries = append(queries, store.SubscriptionQuery{GraphID: it.n.SubscriptionID, ClientStateHash: it.hash})
			it.query, asked[q] = len(queries), len(queries)
		}
	}
	if len(queries) > 0 {
		keys, err := h.lookup(ctx, queries)
		if err != nil {
			return nil, err
		}
		for i := range items {
			if it := &items[i]; it.query > 0 {
				it.reason = matches(keys[it.query-1], it.hash)
			}
		}
	}
	s := &sorted{}
	for i, it := range items {
		switch {
		case it.reason != "":
			s.rejected.add(it.reason, it.n)
		case it.n.LifecycleEvent != "":
			s.lifecycle = append(s.lifecycle, body[i].raw)
		default:
			s.change = append(s.change, body[i].raw)
		}
	}
	return s, nil
}

// lookup finds queries' subscriptions and remembers what it found.
func (h *Handler) lookup(ctx context.Context, queries []store.SubscriptionQuery) ([]store.SubscriptionKey, error) {
	gen := h.cache.generation()
	keys, err := h.d.Subs.SubscriptionKeys(ctx, queries)
	if err != nil {
		return nil, fmt.Errorf("look up %d subscriptions: %w", len(queries), err)
	}
	h.cache.learn(gen, queries, keys)
	return keys, nil
}

// matches says why key refuses an item whose clientState has hash, or "".
func matches(key store.SubscriptionKey, hash []byte) string {
	if key.ID == uuid.Nil {
		return rejectUnknown
	}
	if subtle.ConstantTimeCompare(key.ClientStateHash, hash) != 1 {
		return rejectClientState
	}
	return ""
}
