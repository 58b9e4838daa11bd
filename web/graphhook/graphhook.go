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
// of subscriptions are announced (cache.go, listen.go). A POST whose first
// item is not shown to be Graph's is a suspect: it leaves its place to
// Graph's POSTs and is read and checked in its turn, one at a time while
// suspects wait (suspects.go).
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
	// Suspects bounds the POSTs not shown to be Graph's that are read and
	// checked at once (default half the cores, at least one; suspects.go).
	Suspects int
	// Priority, when set, is told of each POST of Graph's from when it is
	// shown to be Graph's until it is answered, so that processors in this
	// process hold back while one is late (intake.Priority says why). A suspect
	// is not told: whoever finds the URL must not be able to stall them.
	Priority *intake.Priority
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
	waiting chan struct{} // a token per suspect waiting for its turn (MaxWaiting)
	turns   chan []byte   // a turn per suspect read and checked at once, with its buffer
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
	if d.Suspects <= 0 {
		d.Suspects = defaultSuspects()
	}
	h := &Handler{d: d, cache: newSubCache(), serving: make(chan struct{}, d.MaxRequests),
		waiting: make(chan struct{}, MaxWaiting), turns: make(chan []byte, d.Suspects),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "presencebridge_graph_notification_items_total",
			Help: "Notification items received from Graph, by outcome."}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "presencebridge_graph_notification_ack_seconds",
			Help: "Time from receiving a notification POST to answering it.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		busy: prometheus.NewCounter(prometheus.CounterOpts{Name: "presencebridge_graph_notification_busy_total",
			Help: "Notification POSTs answered 503 for want of room: MaxRequests being served, or suspect POSTs (first item not Graph's) beyond those allowed to wait or not given their turn in time."}),
	}
	for range d.Suspects {
		h.turns <- nil // a buffer is made at the first turn, and kept
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
	default:
		h.busy.Inc()
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many notification POSTs at once", http.StatusServiceUnavailable)
		return
	}
	place := true // of h.serving
	defer func() {
		if place {
			<-h.serving
		}
	}()
	ctx, cancel := context.WithDeadline(r.Context(), start.Add(h.d.Deadline))
	defer cancel()
	// Through web's middleware too: chi's wrapper unwraps to the connection.
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(start.Add(h.d.Deadline)); err != nil {
		h.d.Logger.Warn("notification: no read deadline on the body; the server's read timeout bounds it", "err", err)
	}
	// Its first bytes, up to its first item (suspects.go). A declared
	// length over the limit is refused before any of it is read, and a
	// body that is no JSON object at its first byte, but each in a
	// suspect's turn.
	var (
		body     io.Reader
		buf      []byte
		first    []byte
		verdict  = headNoItem
		complete bool
		refuse   func() // the answer of a POST refused on its first bytes
	)
	if r.ContentLength > MaxBody {
		refuse = func() {
			http.Error(w, fmt.Sprintf("body over %d bytes", MaxBody), http.StatusRequestEntityTooLarge)
		}
	} else {
		body = http.MaxBytesReader(w, r.Body, MaxBody)
		// Read into a buffer of the declared length, up to presizeLimit:
		// io.ReadAll's doubling allocated three times a 72 KB body (47 %
		// of the bytes BenchmarkTheDoorOfAPostOf50RichItems allocated per
		// POST).
		buf = make([]byte, 0, min(max(r.ContentLength, 0), presizeLimit)+bytes.MinRead)
		verdict = headMore
		var err error
		buf, err = readBody(buf, body, func(b []byte) bool {
			first, verdict = firstItem(b, false)
			return verdict != headMore || len(b) >= headLimit
		})
		if complete = err == io.EOF; complete {
			first, verdict = firstItem(buf, true)
		} else if err != nil {
			readFailed(w, err)
			return
		}
		if verdict == headNoObject {
			refuse = func() {
				h.items.WithLabelValues(rejectMalformed).Inc()
				http.Error(w, "not a change notification collection", http.StatusBadRequest)
			}
		}
	}
	// Answered before its body came whole, a POST's connection is closed:
	// net/http would otherwise read up to 256 KiB more of it, for as long
	// as the read deadline allows, before sending the answer.
	defer func() {
		if !complete {
			rc.SetReadDeadline(time.Now())
		}
	}()
	// Graph's, or a suspect. When the cache cannot tell, a free turn is
	// taken rather than the database asked.
	var genuine, sure bool
	if verdict == headItem {
		genuine, sure, _ = h.genuine(ctx, first, false)
	}
	if !genuine {
		t, ok := h.tryTurn()
		if !ok && !sure && verdict == headItem {
			var err error
			if genuine, _, err = h.genuine(ctx, first, true); err != nil {
				h.d.Logger.Error("notification: subscription lookup failed", "err", err)
				unavailable(w)
				return
			}
		}
		if !genuine {
			// Its place goes back to Graph's POSTs, and it waits its turn.
			<-h.serving
			place = false
			if !ok {
				if t, ok = h.waitTurn(ctx, w); !ok {
					return
				}
			}
			buf = append(t.buf[:0], buf...)
			defer func() {
				t.buf = buf[:0]
				h.endTurn(t)
			}()
		}
	}
	// Graph's POSTs hold processing back (Deps.Priority) from when they
	// are known to be Graph's: at once, or once their items are checked.
	entered := genuine
	if entered {
		defer h.d.Priority.Enter()()
	}
	if refuse != nil {
		refuse()
		return
	}
	if !complete {
		var err error
		if buf, err = readBody(buf, body, nil); err != io.EOF {
			readFailed(w, err)
			return
		}
		complete = true
	}
	coll, ok := h.parse(w, buf)
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
	if !entered && len(s.change)+len(s.lifecycle) > 0 {
		defer h.d.Priority.Enter()()
	}
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

// readFailed answers why a body could not be read.
func readFailed(w http.ResponseWriter, err error) {
	switch _, tooLarge := errors.AsType[*http.MaxBytesError](err); {
	case tooLarge:
		http.Error(w, fmt.Sprintf("body over %d bytes", MaxBody), http.StatusRequestEntityTooLarge)
	case errors.Is(err, os.ErrDeadlineExceeded):
		http.Error(w, "body not received in time", http.StatusRequestTimeout)
	default:
		http.Error(w, "body unreadable", http.StatusBadRequest)
	}
}

// parse parses a POST's body within MaxItems, or answers why not (ok
// false).
func (h *Handler) parse(w http.ResponseWriter, body []byte) (coll collection, ok bool) {
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

// waitTurn waits for a suspect's turn among at most MaxWaiting, or answers
// 503 when too many wait or its deadline comes first (ok false).
func (h *Handler) waitTurn(ctx context.Context, w http.ResponseWriter) (t *turn, ok bool) {
	select {
	case h.waiting <- struct{}{}:
	default:
		h.busy.Inc()
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many notification POSTs at once", http.StatusServiceUnavailable)
		return nil, false
	}
	defer func() { <-h.waiting }()
	select {
	case buf := <-h.turns:
		return &turn{buf: buf, at: time.Now()}, true
	case <-ctx.Done():
		h.busy.Inc()
		unavailable(w)
		return nil, false
	}
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
