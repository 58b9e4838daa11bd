// Package deliver sends presence events to the telephony platform's
// webhooks as Standard Webhooks: a webhook-id stable across retries,
// webhook-timestamp, and webhook-signature (v1, HMAC-SHA256 with whsec_
// secrets; two signatures while a secret is rotated), signed with the
// reference library.
//
// Delivery is at least once and never lost: deliveries are rows (the
// outbox), claimed with a lease, retried on a schedule with jitter, dead
// after the last attempt and replayable. A user's events reach an endpoint
// in order. One slow or failing endpoint never delays another: each has a
// concurrency cap and a circuit breaker, and every request has a timeout.
package deliver

import (
	"bytes"
	"context"
	cryptorand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"presencebridge/internal/presence"
	"presencebridge/internal/store"
)

// DefaultSchedule is when attempts happen, counted from the event: at once,
// then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h later.
var DefaultSchedule = []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour}

// Options configure a Deliverer.
type Options struct {
	// Schedule is the retry schedule (default DefaultSchedule); a delivery
	// is dead after len(Schedule) attempts.
	Schedule []time.Duration
	// Timeout bounds one request (default 15 s).
	Timeout time.Duration
	// Workers is how many requests run at once in all (default 64), and
	// PerEndpoint how many for one endpoint (default 4). Queue is how many
	// deliveries one endpoint may have claimed, sending or waiting, at once
	// (default 8×PerEndpoint): claims are batched, sends are not.
	Workers, PerEndpoint, Queue int
	// BreakAfter consecutive failures open an endpoint's circuit for
	// Cooldown (defaults 5 and 30 s): its deliveries wait instead of
	// taking workers.
	BreakAfter int
	Cooldown   time.Duration
	// Lease is how long a claimed delivery is reserved (default 2×Timeout).
	Lease time.Duration
	// AllowPrivate lets webhooks reach loopback, private and link-local
	// addresses (tests and development only).
	AllowPrivate bool
	Logger       *slog.Logger
	// Wake, when set, signals new deliveries (LISTEN/NOTIFY), so they go
	// out at once instead of at the next poll.
	Wake <-chan struct{}
}

// Deliverer sends deliveries.
type Deliverer struct {
	st     *store.Store
	opts   Options
	client *http.Client

	mu        sync.Mutex
	inflight  map[uuid.UUID]int
	breakers  map[uuid.UUID]*breaker
	webhooks  map[uuid.UUID]*standardwebhooks.Webhook
	endpoints map[uuid.UUID]chan struct{} // per-endpoint send slots
	workerSem chan struct{}
	freed     chan struct{} // a send finished: its endpoint may take another
	successor chan struct{} // a delivered user has a later delivery waiting
}

type breaker struct {
	failures  int
	openUntil time.Time
}

// New returns a Deliverer.
func New(st *store.Store, opts Options) *Deliverer {
	if len(opts.Schedule) == 0 {
		opts.Schedule = DefaultSchedule
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 15 * time.Second
	}
	if opts.Workers <= 0 {
		opts.Workers = 64
	}
	if opts.PerEndpoint <= 0 {
		opts.PerEndpoint = 4
	}
	if opts.Queue < opts.PerEndpoint {
		opts.Queue = 8 * opts.PerEndpoint
	}
	if opts.BreakAfter <= 0 {
		opts.BreakAfter = 5
	}
	if opts.Cooldown <= 0 {
		opts.Cooldown = 30 * time.Second
	}
	if opts.Lease <= 0 {
		opts.Lease = 2 * opts.Timeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Deliverer{st: st, opts: opts, inflight: map[uuid.UUID]int{}, breakers: map[uuid.UUID]*breaker{},
		webhooks: map[uuid.UUID]*standardwebhooks.Webhook{}, endpoints: map[uuid.UUID]chan struct{}{}, workerSem: make(chan struct{}, opts.Workers),
		freed: make(chan struct{}, 1), successor: make(chan struct{}, 1)}
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: d.checkAddress}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = dialer.DialContext
	transport.Proxy = nil // a proxy would hide the address we must check
	transport.MaxIdleConnsPerHost = opts.PerEndpoint
	d.client = &http.Client{Transport: transport, Timeout: opts.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return d
}

// ErrForbiddenAddress is a webhook URL that resolves to a private,
// loopback or link-local address.
var ErrForbiddenAddress = errors.New("deliver: webhook address is not public")

// checkAddress runs on every connection, after DNS: the address actually
// dialled is checked, so a public name resolving to 10.0.0.1 is refused.
func (d *Deliverer) checkAddress(_, address string, _ syscall.RawConn) error {
	if d.opts.AllowPrivate {
		return nil
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() ||
		ip.IsMulticast() || ip.IsInterfaceLocalMulticast() || netip.MustParsePrefix("100.64.0.0/10").Contains(ip) {
		return fmt.Errorf("%w (%s)", ErrForbiddenAddress, ip)
	}
	return nil
}

// Run delivers until ctx ends: it claims whenever deliveries may be due —
// a wake-up (new events), a recorded delivery whose user has a later one
// waiting, a finished send while an endpoint was at its cap, or every
// interval — and sends each claimed delivery as soon as its endpoint and a
// worker are free. Successes are recorded in groups (see recorder).
//
// Claims are not repeated after every send: under load that ran the claim
// query back to back, costing more database CPU than the sends.
func (d *Deliverer) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	rec := newRecorder(d.st, d.successor, func(err error, n int) {
		d.opts.Logger.Error("deliver: recording deliveries failed; their leases will expire and they be sent again", "err", err, "deliveries", n)
	})
	go rec.run(ctx)
	defer rec.stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		batch, capped, err := d.claim(ctx, 4*d.opts.Workers)
		if err != nil && ctx.Err() == nil {
			d.opts.Logger.Error("deliver: claim failed", "err", err)
		}
		for _, dl := range batch {
			wg.Go(func() { d.dispatch(ctx, dl, rec) })
		}
		if len(batch) == 4*d.opts.Workers {
			continue // more may be due
		}
		var freed <-chan struct{}
		if capped {
			freed = d.freed
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.opts.Wake:
		case <-d.successor:
		case <-freed:
		}
	}
}

// RunOnce claims what is due now and sends it, waiting for the sends.
func (d *Deliverer) RunOnce(ctx context.Context) (int, error) {
	batch, _, err := d.claim(ctx, 4*d.opts.Workers)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, dl := range batch {
		wg.Go(func() { d.dispatch(ctx, dl, nil) })
	}
	wg.Wait()
	return len(batch), nil
}

// dispatch waits for a slot at the delivery's endpoint, then for a worker,
// and sends — unless the endpoint's circuit opened meanwhile, when the
// delivery is put back without spending an attempt. A success is recorded
// by rec, or at once when rec is nil.
func (d *Deliverer) dispatch(ctx context.Context, dl store.Delivery, rec *recorder) {
	slots := d.slots(dl.EndpointID)
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		d.release(dl.EndpointID)
		return
	}
	defer func() { <-slots }()
	if until, open := d.open(dl.EndpointID); open {
		d.release(dl.EndpointID)
		if err := d.st.PostponeDelivery(context.WithoutCancel(ctx), d.st.Pool(), dl.ID, until); err != nil {
			d.opts.Logger.Warn("deliver: postponing failed; the lease will expire", "err", err)
		}
		return
	}
	select {
	case d.workerSem <- struct{}{}:
	case <-ctx.Done():
		d.release(dl.EndpointID)
		return
	}
	defer func() { <-d.workerSem }()
	d.send(ctx, dl, rec)
}

func (d *Deliverer) slots(endpoint uuid.UUID) chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	ch := d.endpoints[endpoint]
	if ch == nil {
		ch = make(chan struct{}, d.opts.PerEndpoint)
		d.endpoints[endpoint] = ch
	}
	return ch
}

func (d *Deliverer) open(endpoint uuid.UUID) (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if b := d.breakers[endpoint]; b != nil && time.Now().Before(b.openUntil) {
		return b.openUntil, true
	}
	return time.Time{}, false
}

// claim leases due deliveries within the workers' and endpoints' limits,
// leaving out endpoints whose circuit is open. capped reports whether the
// claim left an endpoint with as many deliveries claimed as it may: it may
// have more due, to claim as soon as one of its sends finishes.
func (d *Deliverer) claim(ctx context.Context, limit int) (batch []store.Delivery, capped bool, err error) {
	d.mu.Lock()
	skip := []uuid.UUID{}
	now := time.Now()
	for id, b := range d.breakers {
		if now.Before(b.openUntil) {
			skip = append(skip, id)
		}
	}
	busy := make(map[uuid.UUID]int, len(d.inflight))
	for id, n := range d.inflight {
		busy[id] = n
	}
	d.mu.Unlock()
	batch, err = d.st.ClaimDeliveries(ctx, d.st.Pool(), limit, d.opts.Lease, skip, d.opts.Queue, busy)
	d.mu.Lock()
	for _, dl := range batch {
		d.inflight[dl.EndpointID]++
		busy[dl.EndpointID]++
	}
	d.mu.Unlock()
	// Judged by what the claim saw: sends that finished during it must
	// not hide that an endpoint was held back.
	for _, n := range busy {
		capped = capped || n >= d.opts.Queue
	}
	return batch, capped, err
}

// release ends a claim without an outcome (cancelled or postponed).
func (d *Deliverer) release(endpoint uuid.UUID) {
	d.mu.Lock()
	if d.inflight[endpoint]--; d.inflight[endpoint] <= 0 {
		delete(d.inflight, endpoint)
	}
	d.mu.Unlock()
	select {
	case d.freed <- struct{}{}:
	default:
	}
}

// end releases a claimed delivery that was attempted; ok reports whether
// it was delivered (a success closes the endpoint's circuit, a failure
// counts toward opening it).
func (d *Deliverer) end(endpoint uuid.UUID, ok bool) {
	defer d.release(endpoint)
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.breakers[endpoint]
	if ok {
		delete(d.breakers, endpoint)
		return
	}
	if b == nil {
		b = &breaker{}
		d.breakers[endpoint] = b
	}
	if b.failures++; b.failures >= d.opts.BreakAfter {
		b.openUntil = time.Now().Add(d.opts.Cooldown)
		b.failures = 0
	}
}

func (d *Deliverer) send(ctx context.Context, dl store.Delivery, rec *recorder) {
	status, retryAfter, err := d.attempt(ctx, dl)
	ok := err == nil && status >= 200 && status < 300
	d.end(dl.EndpointID, ok)
	db := d.st.Pool()
	// A context that ended mid-send must not lose the outcome's record.
	ctx = context.WithoutCancel(ctx)
	switch {
	case ok && rec != nil:
		rec.in <- success{dl.ID, status}
	case ok:
		err = d.st.DeliverySucceeded(ctx, db, dl.ID, status)
	case status == http.StatusGone:
		err = d.st.DisableEndpoint(ctx, db, dl.EndpointID, "the endpoint answered 410 Gone")
	default:
		reason := fmt.Sprintf("HTTP %d", status)
		if err != nil {
			reason = err.Error()
		}
		err = d.st.DeliveryFailed(ctx, db, dl.ID, status, reason, d.next(dl.Attempts+1, retryAfter))
	}
	if err != nil {
		d.opts.Logger.Error("deliver: recording the outcome failed; the lease will expire and the delivery be retried", "err", err, "delivery", dl.ID)
	}
	if !ok {
		// A delivery now dead no longer holds its user's later ones back.
		select {
		case d.successor <- struct{}{}:
		default:
		}
	}
}

// next is when attempt n+1 happens (zero: none, the delivery is dead).
func (d *Deliverer) next(done int, retryAfter time.Duration) time.Time {
	if done >= len(d.opts.Schedule) {
		return time.Time{}
	}
	wait := d.opts.Schedule[done] - d.opts.Schedule[done-1]
	wait += time.Duration(rand.Int64N(int64(wait/5) + 1)) // up to 20 % jitter
	return time.Now().Add(max(wait, retryAfter))
}

func (d *Deliverer) attempt(ctx context.Context, dl store.Delivery) (int, time.Duration, error) {
	body, err := json.Marshal(presence.NewEvent(dl.Event))
	if err != nil {
		return 0, 0, err
	}
	// The event's own id: the same at every endpoint, across retries and
	// replays, on the event stream too, and unique across databases.
	msgID := dl.Event.EventID.String()
	now := time.Now()
	sig, err := d.signature(ctx, dl, msgID, now, body)
	if err != nil {
		return 0, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dl.EndpointURL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "PresenceBridge-Webhooks/1")
	req.Header.Set("webhook-id", msgID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	var retryAfter time.Duration
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"))
	}
	return resp.StatusCode, retryAfter, nil
}

// signature signs with the current secret and, during a rotation, the
// previous one too: "v1,<a> v1,<b>".
func (d *Deliverer) signature(ctx context.Context, dl store.Delivery, msgID string, at time.Time, body []byte) (string, error) {
	ids := []uuid.UUID{dl.SecretID}
	if dl.PrevSecretID != nil {
		ids = append(ids, *dl.PrevSecretID)
	}
	var sigs []string
	for _, id := range ids {
		wh, err := d.webhook(ctx, id)
		if err != nil {
			return "", err
		}
		s, err := wh.Sign(msgID, at, body)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, s)
	}
	return strings.Join(sigs, " "), nil
}

func (d *Deliverer) webhook(ctx context.Context, secretID uuid.UUID) (*standardwebhooks.Webhook, error) {
	d.mu.Lock()
	wh := d.webhooks[secretID]
	d.mu.Unlock()
	if wh != nil {
		return wh, nil
	}
	secret, err := d.st.OpenSecret(ctx, d.st.Pool(), secretID, store.PurposeSigningSecret)
	if err != nil {
		return nil, err
	}
	if wh, err = standardwebhooks.NewWebhook(string(secret)); err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.webhooks[secretID] = wh
	d.mu.Unlock()
	return wh, nil
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return min(time.Duration(s*float64(time.Second)), 24*time.Hour)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), 24*time.Hour)
	}
	return 0
}

// NewSecret makes an endpoint signing secret: "whsec_" and 32 random
// bytes in base64, as Standard Webhooks specifies.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := cryptorand.Read(b); err != nil {
		return "", err
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b), nil
}
