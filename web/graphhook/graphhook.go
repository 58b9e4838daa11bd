// Package graphhook receives Microsoft Graph's change and lifecycle
// notifications. Graph gives every answer 3 seconds and throttles or drops
// notifications for every subscription on a slow URL — every tenant — so
// the handler does only cheap checks before a durable commit: validation
// handshakes are answered at once; each item must name a known
// subscription and carry its clientState (constant-time compare); accepted
// items are group-committed to the inbox and only then does Graph get 202.
// If the inbox cannot be written, Graph gets 503 and retries.
//
// Everything costly — validationTokens, decryption, mapping — happens
// later, in internal/intake's processor. Sources: docs/graph.md#validation-handshake to #processing-rules, and #lifecycle-notifications.
package graphhook

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"presencebridge/internal/intake"
	"presencebridge/internal/notification"
	"presencebridge/internal/store"
)

// Subscriptions finds what a notification must match.
type Subscriptions interface {
	SubscriptionByGraphID(ctx context.Context, graphID string) (store.SubscriptionKey, error)
	PendingSubscriptionByClientState(ctx context.Context, hash []byte) (store.SubscriptionKey, error)
}

// Committer makes rows durable (*intake.Committer).
type Committer interface {
	Commit(ctx context.Context, row intake.Row) error
}

// Deps are what the receiver needs.
type Deps struct {
	Subs      Subscriptions
	Committer Committer
	Logger    *slog.Logger
	Metrics   prometheus.Registerer
}

// Handler serves POST /notifications and POST /lifecycle.
type Handler struct {
	d       Deps
	cache   sync.Map // graph id → cachedSub
	items   *prometheus.CounterVec
	latency prometheus.Histogram
}

type cachedSub struct {
	key store.SubscriptionKey
	at  time.Time
}

// cacheTTL bounds how long a subscription stays known after deletion.
const cacheTTL = time.Minute

// New returns the receiver.
func New(d Deps) *Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{d: d,
		items: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "presencebridge_graph_notification_items_total",
			Help: "Notification items received from Graph, by outcome."}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "presencebridge_graph_notification_ack_seconds",
			Help: "Time from receiving a notification POST to answering it.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
	}
	if d.Metrics != nil {
		d.Metrics.MustRegister(h.items, h.latency)
	}
	return h
}

// Routes mounts the two endpoints (mount under /graph).
func (h *Handler) Routes(r chi.Router) {
	r.Post("/notifications", h.serve)
	r.Post("/lifecycle", h.serve)
}

// serve handles both URLs alike: an item's kind decides where it goes.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	{
		start := time.Now()
		defer func() { h.latency.Observe(time.Since(start).Seconds()) }()
		// The validation handshake: echo the decoded token as text, at once.
		if r.URL.Query().Has("validationToken") {
			tok := r.URL.Query().Get("validationToken")
			if len(tok) > 4096 {
				http.Error(w, "validation token too long", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, tok)
			return
		}
		// A declared length over the limit is refused before any of it is read.
		if r.ContentLength > MaxBody {
			http.Error(w, fmt.Sprintf("body over %d bytes", MaxBody), http.StatusRequestEntityTooLarge)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			http.Error(w, fmt.Sprintf("body over %d bytes", MaxBody), http.StatusRequestEntityTooLarge)
			return
		}
		if err != nil {
			http.Error(w, "body unreadable", http.StatusBadRequest)
			return
		}
		var coll struct {
			Value            []json.RawMessage `json:"value"`
			ValidationTokens []string          `json:"validationTokens"`
		}
		if err := json.Unmarshal(body, &coll); err != nil || coll.Value == nil {
			h.items.WithLabelValues("malformed").Inc()
			http.Error(w, "not a change notification collection", http.StatusBadRequest)
			return
		}
		if len(coll.Value) > MaxItems {
			h.items.WithLabelValues("over_limit").Add(float64(len(coll.Value)))
			http.Error(w, fmt.Sprintf("over %d items", MaxItems), http.StatusBadRequest)
			return
		}
		var change, lifecycle []json.RawMessage
		var rejected rejections
		defer func() { rejected.log(h.d.Logger) }()
		for _, raw := range coll.Value {
			var n notification.Notification
			if err := json.Unmarshal(raw, &n); err != nil || n.SubscriptionID == "" {
				h.items.WithLabelValues(rejectMalformed).Inc()
				rejected.add(rejectMalformed, n)
				continue
			}
			reason, err := h.accept(r.Context(), n)
			if err != nil {
				h.d.Logger.Error("notification: subscription lookup failed", "err", err)
				w.Header().Set("Retry-After", "5")
				http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
				return
			}
			if reason != "" {
				h.items.WithLabelValues(reason).Inc()
				rejected.add(reason, n)
				continue
			}
			if n.LifecycleEvent != "" {
				lifecycle = append(lifecycle, raw)
			} else {
				change = append(change, raw)
			}
		}
		for kind, items := range map[string][]json.RawMessage{"change": change, "lifecycle": lifecycle} {
			if len(items) == 0 {
				continue
			}
			payload, _ := json.Marshal(struct {
				Value            []json.RawMessage `json:"value"`
				ValidationTokens []string          `json:"validationTokens,omitempty"`
			}{items, coll.ValidationTokens})
			if err := h.d.Committer.Commit(r.Context(), intake.Row{Kind: kind, Payload: payload, Items: len(items)}); err != nil {
				if !errors.Is(err, context.Canceled) {
					h.d.Logger.Error("notification: inbox commit failed", "err", err, "items", len(items))
				}
				w.Header().Set("Retry-After", "5")
				http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
				return
			}
			h.items.WithLabelValues("accepted").Add(float64(len(items)))
		}
		w.WriteHeader(http.StatusAccepted)
	}
}

// Why an item is refused at the door (the outcome label of
// presencebridge_graph_notification_items_total; "accepted" for the others).
const (
	rejectMalformed         = "malformed"
	rejectUnknown           = "unknown_subscription"
	rejectClientStateAbsent = "client_state_missing"
	rejectClientState       = "client_state_mismatch"
)

// accept checks an item's subscription and clientState: "" accepts it,
// anything else is the reason it is refused. A lookup error (not
// "unknown") is returned so the POST gets 503, not a silent drop.
func (h *Handler) accept(ctx context.Context, n notification.Notification) (string, error) {
	if n.ClientState == "" {
		return rejectClientStateAbsent, nil
	}
	key, err := h.lookup(ctx, n.SubscriptionID, n.ClientState)
	if errors.Is(err, store.ErrSubscriptionNotFound) {
		return rejectUnknown, nil
	}
	if err != nil {
		return "", err
	}
	if subtle.ConstantTimeCompare(key.ClientStateHash, store.ClientStateHash(n.ClientState)) != 1 {
		return rejectClientState, nil
	}
	return "", nil
}

// rejections gathers what one POST refused, for one log line: a line per
// item would let anyone who finds the URL flood the log, none would hide
// a subscription we lost track of (its items are refused until repair).
type rejections struct {
	n       int
	reasons map[string]int
	samples []string // "reason subscription tenant", the first few
}

func (x *rejections) add(reason string, n notification.Notification) {
	if x.reasons == nil {
		x.reasons = map[string]int{}
	}
	x.n++
	x.reasons[reason]++
	if len(x.samples) < 5 {
		x.samples = append(x.samples, fmt.Sprintf("%s subscription=%.64q tenant=%.64q", reason, n.SubscriptionID, n.TenantID))
	}
}

func (x *rejections) log(logger *slog.Logger) {
	if x.n > 0 {
		logger.Warn("notification: items refused", "items", x.n, "reasons", x.reasons, "first", x.samples)
	}
}

func (h *Handler) lookup(ctx context.Context, graphID, clientState string) (store.SubscriptionKey, error) {
	if c, ok := h.cache.Load(graphID); ok && time.Since(c.(cachedSub).at) < cacheTTL {
		return c.(cachedSub).key, nil
	}
	key, err := h.d.Subs.SubscriptionByGraphID(ctx, graphID)
	if errors.Is(err, store.ErrSubscriptionNotFound) {
		// Graph can notify before the new subscription's id is stored.
		key, err = h.d.Subs.PendingSubscriptionByClientState(ctx, store.ClientStateHash(clientState))
		if err == nil {
			return key, nil // not cached: its id is not known yet
		}
	}
	if err != nil {
		return key, err
	}
	h.cache.Store(graphID, cachedSub{key, time.Now()})
	return key, nil
}
