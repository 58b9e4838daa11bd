package faults

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"presencebridge/internal/presence"
)

// Receiver is the telephony platform's webhook endpoint: it verifies each
// request's Standard Webhooks signature with the reference library,
// records it (webhook-id, user, sequence, state) in the order requests
// arrive, and answers as the scenario says (by default 204 at once).
type Receiver struct {
	URL string

	srv *http.Server
	ln  net.Listener

	mu      sync.Mutex
	secret  string
	secrets map[string]string // by request path: one endpoint per tenant
	observe func(Arrival)     // when set, arrivals go to it and are not kept
	n       int               // arrivals so far
	answer  func(Arrival) Answer
	got     []Arrival
	arrived chan struct{}
}

// Arrival is one webhook request as it arrived.
type Arrival struct {
	N          int // 0, 1, 2…: the order of arrival
	At         time.Time
	WebhookID  string
	Verified   bool // the signature verified with the endpoint's secret
	User       uuid.UUID
	Sequence   int64
	State      string
	Activity   string
	Source     string
	Supersedes *presence.Superseded
	Status     int // what the receiver answered (0: the sender gave up before the answer)
}

// Answer is how the receiver answers one request: Delay first (the
// request's context ending cuts it short), then Status with RetryAfter.
type Answer struct {
	Status     int
	RetryAfter string
	Delay      time.Duration
}

// NewReceiver serves a Receiver on a free loopback port.
func NewReceiver() (*Receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Receiver{ln: ln, URL: "http://" + ln.Addr().String() + "/presence", arrived: make(chan struct{}, 1)}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

// SetSecret is the endpoint's signing secret (whsec_…), once onboarding
// made it.
func (r *Receiver) SetSecret(secret string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = secret
}

// SetSecretFor is the signing secret of the endpoint at path (a tenant's
// own: URL's path plus a suffix of its own), where many tenants' webhooks
// arrive at one receiver.
func (r *Receiver) SetSecretFor(path, secret string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.secrets == nil {
		r.secrets = map[string]string{}
	}
	r.secrets[path] = secret
}

// Observe hands every arrival from now on to fn (outside the receiver's
// lock, before the answer) instead of keeping it: a load run of millions
// of webhooks keeps what it measures, not every request. nil: keep them.
func (r *Receiver) Observe(fn func(Arrival)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.observe = fn
}

// SetAnswer decides the answers from now on; nil: 204 at once.
func (r *Receiver) SetAnswer(fn func(Arrival) Answer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answer = fn
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var ev presence.Event
	json.Unmarshal(body, &ev)
	r.mu.Lock()
	a := Arrival{N: r.n, At: time.Now(), WebhookID: req.Header.Get("webhook-id"), User: ev.Data.User.ObjectID,
		Sequence: ev.Data.Sequence, State: ev.Data.State, Activity: ev.Data.Activity, Source: ev.Data.Source, Supersedes: ev.Data.Supersedes}
	r.n++
	secret, ok := r.secrets[req.URL.Path]
	if !ok {
		secret = r.secret
	}
	if wh, err := standardwebhooks.NewWebhook(secret); err == nil {
		a.Verified = wh.Verify(body, req.Header) == nil
	}
	kept, observe := -1, r.observe
	if observe == nil {
		kept = len(r.got)
		r.got = append(r.got, a)
	}
	answer := r.answer
	r.mu.Unlock()
	if observe != nil {
		observe(a)
	}
	select {
	case r.arrived <- struct{}{}:
	default:
	}
	ans := Answer{Status: http.StatusNoContent}
	if answer != nil {
		ans = answer(a)
	}
	if ans.Delay > 0 {
		select {
		case <-time.After(ans.Delay):
		case <-req.Context().Done():
			return // the sender gave up: no answer reached it
		}
	}
	if ans.RetryAfter != "" {
		w.Header().Set("Retry-After", ans.RetryAfter)
	}
	w.WriteHeader(ans.Status)
	if kept >= 0 {
		r.mu.Lock()
		r.got[kept].Status = ans.Status
		r.mu.Unlock()
	}
}

// Arrivals copies what arrived so far.
func (r *Receiver) Arrivals() []Arrival {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Arrival{}, r.got...)
}

// WaitFor waits until cond holds for the arrivals, or ctx ends.
func (r *Receiver) WaitFor(ctx context.Context, cond func([]Arrival) bool) bool {
	for {
		if cond(r.Arrivals()) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-r.arrived:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Close stops the receiver.
func (r *Receiver) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r.srv.Shutdown(ctx)
	r.srv.Close()
}

// RetryAfterSeconds is a Retry-After of n seconds.
func RetryAfterSeconds(n int) string { return strconv.Itoa(n) }
