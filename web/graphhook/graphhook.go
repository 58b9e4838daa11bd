// Package graphhook receives Microsoft Graph's change and lifecycle
// notifications. Graph gives every answer 3 seconds and throttles or drops
// notifications for every subscription on a slow URL — every tenant — so
// the handler does only cheap checks before a durable commit: validation
// handshakes are answered at once; each item must name a known
// subscription and carry its clientState (constant-time compare); accepted
// items are group-committed to the inbox and only then does Graph get 202.
// If the inbox cannot be written, Graph gets 503 and retries.
//
// The URL is public, so whoever else finds it is given no more than Graph
// needs (limits.go): a POST of at most MaxBody and MaxItems, answered
// within Deadline whatever happens, at most MaxRequests at once (more get
// 503 at once), its subscriptions looked up in one statement whatever its
// items (check.go), and ids that matched nothing remembered while changes
// of subscriptions are announced (cache.go, listen.go).
//
// Everything costly — validationTokens, decryption, mapping — happens
// later, in internal/intake's processor. Sources: docs/graph.md#validation-handshake to #processing-rules, and #lifecycle-notifications.
package graphhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"presencebridge/internal/intake"
	"presencebridge/internal/notification"
	"presencebridge/internal/store"
)

// Subscriptions finds what notifications must match (*store.Store).
type Subscriptions interface {
	SubscriptionKeys(ctx context.Context, queries []store.SubscriptionQuery) ([]store.SubscriptionKey, error)
}

// Committer makes rows durable (*intake.Committer).
type Committer interface {
	Commit(ctx context.Context, row intake.Row) error
}

// Deps are what the receiver needs.
type Deps struct {
	Subs      Subscriptions
	Committer Committer
	// Changes opens the LISTEN connection of Run (optional).
	Changes Listener
	// MaxRequests bounds the notification POSTs served at once (default
	// DefaultMaxRequests); more are answered 503 at once.
	MaxRequests int
	// Deadline bounds each POST (default Deadline, Graph's 3 s less a
	// second): only tests of something else than time change it.
	Deadline time.Duration
	Logger   *slog.Logger
	Metrics  prometheus.Registerer
}

// Handler serves POST /notifications and POST /lifecycle.
type Handler struct {
	d       Deps
	cache   *subCache
	serving chan struct{} // a token per POST being served (MaxRequests)
	items   *prometheus.CounterVec
	latency prometheus.Histogram
	busy    prometheus.Counter
}

// New returns the receiver.
func New(d Deps) *Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.MaxRequests <= 0 {
		d.MaxRequests = DefaultMaxRequests
	}
	if d.Deadline <= 0 {
		d.Deadline = Deadline
	}
	h := &Handler{d: d, cache: newSubCache(), serving: make(chan struct{}, d.MaxRequests),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "presencebridge_graph_notification_items_total",
			Help: "Notification items received from Graph, by outcome."}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "presencebridge_graph_notification_ack_seconds",
			Help: "Time from receiving a notification POST to answering it.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		busy: prometheus.NewCounter(prometheus.CounterOpts{Name: "presencebridge_graph_notification_busy_total",
			Help: "Notification POSTs answered 503 because MaxRequests were being served."}),
	}
	if d.Metrics != nil {
		d.Metrics.MustRegister(h.items, h.latency, h.busy)
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
	select {
	case h.serving <- struct{}{}:
		defer func() { <-h.serving }()
	default:
		h.busy.Inc()
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many notification POSTs at once", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithDeadline(r.Context(), start.Add(h.d.Deadline))
	defer cancel()
	// Through web's middleware too: chi's wrapper unwraps to the connection.
	if err := http.NewResponseController(w).SetReadDeadline(start.Add(h.d.Deadline)); err != nil {
		h.d.Logger.Warn("notification: no read deadline on the body; the server's read timeout bounds it", "err", err)
	}
	coll, ok := h.read(w, r)
	if !ok {
		return
	}
	s, err := h.check(ctx, coll.items)
	if err != nil {
		h.d.Logger.Error("notification: subscription lookup failed", "err", err)
		unavailable(w)
		return
	}
	defer s.rejected.log(h.d.Logger)
	for reason, n := range s.rejected.reasons {
		h.items.WithLabelValues(reason).Add(float64(n))
	}
	for kind, items := range map[string][][]byte{"change": s.change, "lifecycle": s.lifecycle} {
		if len(items) == 0 {
			continue
		}
		payload := appendPayload(make([]byte, 0, s.size(kind)+len(items)+64), items, coll.ValidationTokens)
		if err := h.d.Committer.Commit(ctx, intake.Row{Kind: kind, Payload: payload, Items: len(items)}); err != nil {
			if !errors.Is(err, context.Canceled) {
				h.d.Logger.Error("notification: inbox commit failed", "err", err, "items", len(items))
			}
			unavailable(w)
			return
		}
		h.items.WithLabelValues("accepted").Add(float64(len(items)))
	}
	w.WriteHeader(http.StatusAccepted)
}

// read reads and parses a POST's body within MaxBody and MaxItems, or
// answers why not (ok false).
func (h *Handler) read(w http.ResponseWriter, r *http.Request) (coll collection, ok bool) {
	// A declared length over the limit is refused before any of it is read.
	if r.ContentLength > MaxBody {
		http.Error(w, fmt.Sprintf("body over %d bytes", MaxBody), http.StatusRequestEntityTooLarge)
		return coll, false
	}
	// Read into a buffer of the declared length, up to presizeLimit:
	// io.ReadAll's doubling allocated three times a 72 KB body (47 % of
	// the bytes BenchmarkTheDoorOfAPostOf50RichItems allocated per POST).
	buf := bytes.NewBuffer(make([]byte, 0, min(max(r.ContentLength, 0), presizeLimit)+bytes.MinRead))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxBody))
	body := buf.Bytes()
	if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
		http.Error(w, fmt.Sprintf("body over %d bytes", MaxBody), http.StatusRequestEntityTooLarge)
		return coll, false
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		http.Error(w, "body not received in time", http.StatusRequestTimeout)
		return coll, false
	}
	if err != nil {
		http.Error(w, "body unreadable", http.StatusBadRequest)
		return coll, false
	}
	coll, n, err := parse(body)
	switch {
	case errors.Is(err, errNotCollection):
		h.items.WithLabelValues(rejectMalformed).Inc()
		http.Error(w, "not a change notification collection", http.StatusBadRequest)
		return coll, false
	case errors.Is(err, errOverLimit):
		h.items.WithLabelValues(rejectOverLimit).Add(float64(n))
		http.Error(w, fmt.Sprintf("over %d items", MaxItems), http.StatusBadRequest)
		return coll, false
	}
	return coll, true
}

// presizeLimit bounds the buffer allocated for a body before it arrives:
// a declared length is only a claim, and a larger body grows its buffer as
// it comes.
const presizeLimit = 1 << 20

// unavailable answers 503: Graph retries, and nothing is lost.
func unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "5")
	http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
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
