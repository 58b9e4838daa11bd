// Package deliver sends presence events to the telephony platform's
// webhooks as Standard Webhooks: webhook-id is the event's id (the same
// across retries and replays, and unique across databases),
// webhook-timestamp, and webhook-signature (v1, HMAC-SHA256 with whsec_
// secrets; two signatures while a secret is rotated), signed with the
// reference library.
//
// Delivery is at least once and never lost: deliveries are rows (the
// outbox), claimed with a lease, retried on a schedule for live presence
// (seconds first, then minutes, ~24 h in all; schedule.go), dead after it
// and replayable. A user's events reach an endpoint in order; once a
// delivery failed and a newer state of the same user waits, the older
// ones are superseded and the newest goes out at once (latest state wins,
// the payload says which sequences it replaced). One slow or failing
// endpoint never delays another: each has a concurrency cap and a
// circuit breaker (circuit.go), and every request has a timeout. Endpoint
// state changes are logged once (failing, recovered, disabled) and
// counted in Prometheus metrics (metrics.go).
package deliver

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"presencebridge/internal/activity"
	"presencebridge/internal/store"
)

// Options configure a Deliverer.
type Options struct {
	// Schedule is the retry schedule, counted from a delivery's start
	// (default DefaultSchedule); a delivery still failing after its last
	// point is dead.
	Schedule []time.Duration
	// Timeout bounds one request (default 15 s).
	Timeout time.Duration
	// Workers is how many requests run at once in all (default 64), and
	// PerEndpoint how many for one endpoint (default 4). Queue is how many
	// deliveries one endpoint may have claimed, sending or waiting, at once
	// (default 8×PerEndpoint): claims are batched, sends are not.
	Workers, PerEndpoint, Queue int
	// BreakAfter consecutive failures open an endpoint's circuit for
	// Cooldown, doubled after each failed probe up to MaxCooldown
	// (defaults 5, 1 s and 5 s; see circuit.go for why so short).
	BreakAfter  int
	Cooldown    time.Duration
	MaxCooldown time.Duration
	// Lease is how long a claimed delivery is reserved (default 2×Timeout,
	// at least Timeout+LeaseMargin: a send must fit in its claim). A
	// delivery that waited for a slot until less than that was left is
	// renewed before it is sent, or dropped if another claim took it.
	Lease time.Duration
	// AllowPrivate lets webhooks reach loopback, private and link-local
	// addresses (tests and development only).
	AllowPrivate bool
	Logger       *slog.Logger
	// Metrics, when set, is where the deliverer's metrics are registered
	// (the app's registry).
	Metrics prometheus.Registerer
	// Wake, when set, signals new deliveries (LISTEN/NOTIFY), so they go
	// out at once instead of at the next poll.
	Wake <-chan struct{}
	// Activity, when set, counts each attempt's outcome and latency per
	// tenant and minute (activity.go).
	Activity *activity.Recorder
	// Priority, when set, is waited on before each claim and each send:
	// while the receiver in this process acknowledges a POST of Graph's,
	// the deliverer holds back (*intake.Priority says why; issue 16).
	Priority interface{ Yield(ctx context.Context) }
}

// Deliverer sends deliveries.
type Deliverer struct {
	st      *store.Store
	opts    Options
	client  *http.Client
	metrics *metrics

	mu        sync.Mutex
	inflight  map[uuid.UUID]int
	circuits  map[uuid.UUID]*circuit
	opened    map[[2]uuid.UUID]*signer    // signers by tenant and secret (signerOf)
	endpoints map[uuid.UUID]chan struct{} // per-endpoint send slots
	workerSem chan struct{}
	freed     chan struct{} // a send finished: its endpoint may take another
	successor chan struct{} // a delivered user has a later delivery waiting, or an endpoint failed or recovered
	claims    atomic.Int64  // claims made, for the benchmarks

	holds map[uuid.UUID]time.Time // when each endpoint's latest Retry-After ends (throttle; under mu)
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
		opts.Cooldown = time.Second
	}
	if opts.MaxCooldown < opts.Cooldown {
		opts.MaxCooldown = max(5*time.Second, opts.Cooldown)
	}
	if opts.Lease <= 0 {
		opts.Lease = 2 * opts.Timeout
	}
	opts.Lease = max(opts.Lease, opts.Timeout+LeaseMargin)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Deliverer{st: st, opts: opts, metrics: newMetrics(opts.Metrics, st), inflight: map[uuid.UUID]int{}, circuits: map[uuid.UUID]*circuit{},
		opened: map[[2]uuid.UUID]*signer{}, endpoints: map[uuid.UUID]chan struct{}{}, workerSem: make(chan struct{}, opts.Workers),
		freed: make(chan struct{}, 1), successor: make(chan struct{}, 1)}
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: d.checkAddress}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = dialer.DialContext
	transport.Proxy = nil // a proxy would hide the address we must check
	// Connections are pooled by host, not by endpoint: a telephony
	// platform's endpoints (one a tenant) may all be one host, where every
	// worker may be sending at once. With the idle pool at PerEndpoint, all
	// but 4 of those connections were closed after each request and dialled
	// again for the next: dialling and closing took ~15 % of the process's
	// CPU while a repair drained to 100 endpoints at one host
	// (BenchmarkDrainingARepairOf20000UsersOver100Tenants).
	transport.MaxIdleConnsPerHost = opts.Workers
	transport.MaxIdleConns = max(transport.MaxIdleConns, opts.Workers)
	d.client = &http.Client{Transport: transport, Timeout: opts.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return d
}

// Run delivers until ctx ends: it claims whenever deliveries may be due —
// a wake-up (new events), a recorded delivery whose user has a later one
// waiting, an endpoint that failed or recovered, a finished send while an
// endpoint was at its cap, an open circuit's cooldown ending, or every
// interval — and sends each claimed delivery as soon as its endpoint and a
// worker are free. Successes are recorded in groups (see recorder).
//
// Claims are not repeated after every send: under load that ran the claim
// query back to back, costing more database CPU than the sends.
func (d *Deliverer) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	rec := newRecorder(d.st, d.sending, d.successor, func(err error, n int) {
		d.opts.Logger.Error("deliver: recording deliveries failed; their leases will expire and they be sent again", "err", err, "deliveries", n)
	})
	go rec.run(ctx)
	defer rec.stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	ticked := true
	for {
		n, more, capped, err := d.round(ctx, rec, &wg, ticked)
		if err != nil && ctx.Err() == nil {
			d.opts.Logger.Error("deliver: claim failed", "err", err)
		}
		if n == 4*d.opts.Workers || more {
			ticked = false
			continue // more may be due
		}
		var freed <-chan struct{}
		if capped {
			freed = d.freed
		}
		var halfOpen <-chan time.Time
		if wait := d.nextHalfOpen(); wait > 0 {
			halfOpen = time.After(wait) // collected unfired once unreachable (Go 1.23+)
		}
		ticked = false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			ticked = true
		case <-d.opts.Wake:
		case <-d.successor:
		case <-freed:
		case <-halfOpen:
		}
	}
}

// RunOnce claims what is due now (and probes endpoints whose circuit is
// half-open) and sends it, waiting for the sends.
func (d *Deliverer) RunOnce(ctx context.Context) (int, error) {
	var wg sync.WaitGroup
	n, _, _, err := d.round(ctx, nil, &wg, true)
	wg.Wait()
	return n, err
}

// round supersedes what a newer state replaced (every interval, and while
// an endpoint is failing here: on a healthy system there is nothing to
// do), sends one probe to each half-open endpoint and claims and sends
// what is due. It returns how many deliveries it claimed, whether more
// were left due that could be claimed at once, and whether the claim left
// an endpoint at its cap.
func (d *Deliverer) round(ctx context.Context, rec *recorder, wg *sync.WaitGroup, periodic bool) (int, bool, bool, error) {
	if periodic || d.failing() {
		d.supersede(ctx)
	}
	probes, _ := d.probes()
	for _, ep := range probes {
		at := time.Now()
		dl, ok, err := d.st.ClaimProbe(ctx, ep, d.opts.Lease)
		if err != nil && ctx.Err() == nil {
			d.opts.Logger.Error("deliver: claiming a probe failed", "err", err, "endpoint", ep)
		}
		if !ok {
			d.unprobed(ep)
			continue
		}
		d.mu.Lock()
		d.inflight[ep]++
		d.mu.Unlock()
		wg.Go(func() { d.dispatch(ctx, d.held(dl, at), rec, true) })
	}
	d.yield(ctx)
	batch, more, capped, err := d.claim(ctx, 4*d.opts.Workers)
	for _, dl := range batch {
		wg.Go(func() { d.dispatch(ctx, dl, rec, false) })
	}
	return len(batch) + len(probes), more, capped, err
}

// yield waits on Options.Priority, if any.
func (d *Deliverer) yield(ctx context.Context) {
	if d.opts.Priority != nil {
		d.opts.Priority.Yield(ctx)
	}
}

// supersede applies "latest state wins": behind every failed delivery
// (store.SupersedeBehindFailures), and for every user of an endpoint whose
// circuit is open here (store.SupersedeAtFailingEndpoints), whose heads
// the circuit does not try.
func (d *Deliverer) supersede(ctx context.Context) {
	for _, step := range []func() (map[uuid.UUID]int64, error){
		func() (map[uuid.UUID]int64, error) { return d.st.SupersedeBehindFailures(ctx) },
		func() (map[uuid.UUID]int64, error) { return d.st.SupersedeAtFailingEndpoints(ctx, d.skipped()) },
	} {
		by, err := step()
		if err != nil {
			if ctx.Err() == nil {
				d.opts.Logger.Error("deliver: superseding older deliveries failed", "err", err)
			}
			return
		}
		for _, n := range by {
			d.metrics.superseded.Add(float64(n))
		}
	}
}

// nextHalfOpen is how long until an open circuit may be probed (0: none
// is waiting).
func (d *Deliverer) nextHalfOpen() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	var wait time.Duration
	for _, b := range d.circuits {
		if b.open && !b.probing {
			if w := max(time.Until(b.openUntil), time.Millisecond); wait == 0 || w < wait {
				wait = w
			}
		}
	}
	return wait
}

// dispatch waits for a slot at the delivery's endpoint, then for a worker,
// and sends — unless the endpoint's circuit opened or its Retry-After
// began meanwhile (and this is not its probe), when the delivery is put
// back without spending an attempt. A success is recorded by rec, or at
// once when rec is nil.
func (d *Deliverer) dispatch(ctx context.Context, dl claimed, rec *recorder, probe bool) {
	slots := d.slots(dl.EndpointID)
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		d.release(dl.EndpointID)
		return
	}
	defer func() { <-slots }()
	if d.postponed(ctx, dl, probe) {
		return
	}
	select {
	case d.workerSem <- struct{}{}:
	case <-ctx.Done():
		d.release(dl.EndpointID)
		return
	}
	defer func() { <-d.workerSem }()
	d.send(ctx, dl, rec, probe)
}

// postponed puts dl back, without spending an attempt, when its
// endpoint's circuit is open (and dl is not its probe) or its Retry-After
// holds, and reports whether it did.
func (d *Deliverer) postponed(ctx context.Context, dl claimed, probe bool) bool {
	until, open := d.open(dl.EndpointID)
	if !open || probe {
		return false
	}
	d.release(dl.EndpointID)
	if err := d.st.PostponeDelivery(context.WithoutCancel(ctx), dl.ID, dl.Lease, until); err != nil {
		d.opts.Logger.Warn("deliver: postponing failed; the lease will expire", "err", err)
	}
	return true
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

// claim leases due deliveries within the workers' and endpoints' limits,
// leaving out endpoints whose circuit is open. more reports deliveries
// left due that another claim may take at once (store.ClaimDeliveries);
// capped whether the claim left an endpoint with as many deliveries
// claimed as it may: it may have more due, to claim as soon as one of its
// sends finishes.
func (d *Deliverer) claim(ctx context.Context, limit int) (batch []claimed, more, capped bool, err error) {
	skip := d.skipped()
	d.mu.Lock()
	busy := make(map[uuid.UUID]int, len(d.inflight))
	for id, n := range d.inflight {
		busy[id] = n
	}
	d.mu.Unlock()
	at := time.Now()
	got, more, err := d.st.ClaimDeliveries(ctx, limit, d.opts.Lease, skip, d.opts.Queue, busy)
	d.claims.Add(1)
	d.mu.Lock()
	for _, dl := range got {
		d.inflight[dl.EndpointID]++
		busy[dl.EndpointID]++
		batch = append(batch, d.held(dl, at))
	}
	d.mu.Unlock()
	// Judged by what the claim saw: sends that finished during it must
	// not hide that an endpoint was held back.
	for _, n := range busy {
		capped = capped || n >= d.opts.Queue
	}
	return batch, more, capped, err
}

// sending reports whether a claimed delivery is still being sent.
func (d *Deliverer) sending() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.inflight) > 0
}

// release ends a claim (sent, cancelled or postponed).
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

// wake makes Run claim again soon.
func (d *Deliverer) wake() {
	select {
	case d.successor <- struct{}{}:
	default:
	}
}

// send attempts a delivery and records the outcome — under the claim's
// lease, so a worker whose lease ran out cannot overwrite a newer
// claim's outcome — and the endpoint's state: one log line when it
// starts failing, recovers or is disabled, never one per attempt.
func (d *Deliverer) send(ctx context.Context, dl claimed, rec *recorder, probe bool) {
	if !d.hold(ctx, &dl) {
		d.release(dl.EndpointID)
		return
	}
	// Checked again at the last moment: an answer with Retry-After that
	// came while this waited for a worker holds the endpoint (throttle).
	if d.postponed(ctx, dl, probe) {
		return
	}
	d.yield(ctx)
	sendCtx, cancel := context.WithDeadline(ctx, dl.until.Add(-LeaseMargin))
	a, err := d.attempt(sendCtx, dl.Delivery)
	cancel()
	status, ok := a.status, err == nil && a.ok()
	if !ok && a.retryAfter > 0 {
		d.throttle(dl.EndpointID, a.retryAfter)
	}
	d.metrics.attempt(status, err, ok)
	d.measure(dl.Delivery, ok)
	d.release(dl.EndpointID)
	// A context that ended mid-send must not lose the outcome's record.
	ctx = context.WithoutCancel(ctx)
	// Made only when there is something to log: Logger.With formats its
	// attributes at once, and made for every delivery it was 0.50 s of
	// serve's 18.0 s of CPU in TestLoadRepair's profile (100,000
	// deliveries, a JSON handler), all of it unused on success.
	log := func() *slog.Logger { return d.opts.Logger.With("endpoint", dl.EndpointID, "tenant", dl.TenantID) }
	var rerr error
	switch {
	case ok:
		if rec != nil {
			rec.in <- success{dl.ID, dl.Lease, status}
		} else {
			_, rerr = d.st.DeliverySucceeded(ctx, dl.ID, dl.Lease, status)
		}
		if c := d.succeeded(dl.EndpointID); c != nil {
			d.recovered(ctx, log(), dl.Delivery, c)
		}
	case status == http.StatusGone:
		rerr = d.st.EndpointGone(ctx, dl.TenantID, dl.EndpointID)
		d.forget(dl.EndpointID)
		log().Warn("deliver: endpoint disabled: it answered 410 Gone; its pending deliveries are dead until it is enabled and they are replayed")
	default:
		// The delivery keeps the endpoint's answer for people to read; the
		// log names only its status (the body is the receiver's to tell).
		reason, logged := a.reason(), fmt.Sprintf("HTTP %d", status)
		if err != nil {
			reason, logged = err.Error(), err.Error()
		}
		if a.retryAfter > 0 {
			// Before the failure's record ends the claim: from then on a
			// probe (of any process) could take the delivery, and must find
			// the hold. And before the circuit learns it, so that its probe
			// comes no sooner than the hold ends (circuit.go).
			if err := d.st.HoldEndpoint(ctx, dl.EndpointID, a.retryAfter); err != nil {
				log().Error("deliver: recording the endpoint's Retry-After failed; this process's circuit still honours it", "err", err)
			}
		}
		_, rerr = d.st.DeliveryFailed(ctx, dl.ID, dl.Lease, status, reason, next(d.opts.Schedule, dl.ScheduleStart, time.Now(), a.retryAfter))
		if _, began := d.failed(dl.EndpointID, dl.TenantID, probe, a.retryAfter); began {
			attrs := []any{"err", logged}
			if status != 0 {
				attrs = append(attrs, "status", status)
			}
			log().Warn("deliver: endpoint failing; retrying, newest state of each user first", attrs...)
		}
		// A failed head may now be superseded by a newer state of its user,
		// and a dead one no longer holds its user's later ones back.
		d.wake()
	}
	if rerr != nil {
		log().Error("deliver: recording the outcome failed; the lease will expire and the delivery be retried", "err", rerr, "delivery", dl.ID)
	}
}

// recovered: an endpoint that was failing answered. Every pending
// delivery of it becomes due at once (they were waiting out their backoff
// or the open circuit), so the users' newest states follow now.
func (d *Deliverer) recovered(ctx context.Context, log *slog.Logger, dl store.Delivery, c *circuit) {
	n, err := d.st.RetryEndpoint(ctx, dl.TenantID, dl.EndpointID)
	if err != nil {
		log.Error("deliver: making a recovered endpoint's deliveries due failed; they keep their schedule", "err", err)
	}
	log.Info("deliver: endpoint recovered", "after", time.Since(c.failingSince).Round(time.Millisecond).String(),
		"failed_attempts", c.failures, "due", n)
	d.wake()
}
