package graphsim

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// Change-notification delivery as Microsoft documents it (docs/graph.md#delivery-and-acknowledgement):
// every presence change of a covered user becomes one changeNotification
// per subscription; notifications for the same notificationUrl are batched
// into one changeNotificationCollection POST (docs/graph.md#notification-payload), encrypted per item for
// rich subscriptions (docs/graph.md#rich-notifications) with one validation token per app and tenant
// (docs/graph.md#validation-tokens). A POST is delivered when it gets a 2xx within 3 seconds;
// otherwise it is retried with exponential back-off for up to 4 hours, each
// retry allowed 10 seconds; endpoints that are too often slow are delayed
// or dropped for 10 minutes (docs/graph.md#delivery-and-acknowledgement, newest version).
//
// Waiting (back-off, delays, the slow-endpoint window, lifecycle events)
// follows the Sim's clock, so tests move time and call TickNotifications;
// HTTP timeouts are real time.

// Delivery rules (docs/graph.md#delivery-and-acknowledgement, newest version) and our batching.
const (
	deliveryTimeout   = 3 * time.Second
	retryTimeout      = 10 * time.Second
	validationTimeout = 10 * time.Second
	retryFor          = 4 * time.Hour
	retryFirstDelay   = 30 * time.Second // Microsoft documents "exponential back-off", not the steps
	retryMaxDelay     = 30 * time.Minute
	slowWindow        = 10 * time.Minute
	slowPenalty       = 10 * time.Minute
	slowShare         = 0.10 // > 10 % of responses over 3 s: delayed
	dropShare         = 0.15 // > 15 % over 10 s: dropped
	// slowMinResponses is how many responses a window needs before an
	// endpoint is judged (Microsoft's older text said 100; the newest
	// gives no number).
	slowMinResponses = 10
	maxBatchItems    = 1000
	maxPostsPerURL   = 8
	tickInterval     = 200 * time.Millisecond
	// lifecycleInterval is how often Run looks over every subscription
	// for expiry and lifecycle events. Each look reads every creator in
	// the directory: at five a second it was 28 % of graphsim's CPU with
	// 2,540 subscriptions over a million users (a 24-s profile of the load
	// run at 1,000 changes/s, issue 16), on the cores the product is
	// measured on. Graph documents no timing for lifecycle notifications
	// finer than minutes; TickNotifications still looks at every call.
	lifecycleInterval = time.Second
)

// notifier delivers change and lifecycle notifications.
type notifier struct {
	s    *Sim
	subs *subStore
	wake chan struct{}

	// timeouts are variables so tests need not wait 10 real seconds.
	validationTimeout, deliveryTimeout, retryTimeout time.Duration

	inMu  sync.Mutex
	inbox []pendingChange
	// dispatchMu keeps one dispatcher at a time (the run loop and
	// TickNotifications), so changes reach endpoints in the order made.
	dispatchMu sync.Mutex

	mu        sync.Mutex
	ctx       context.Context
	client    *http.Client
	httpHosts map[string]bool
	endpoints map[string]*deliveryEndpoint
	faults    []*NotificationFault
	stats     NotificationStats
	latency   latencyRing
	churns    map[string]*churn
	journal   journal
	// retry is the back-off of failed POSTs (retryFirstDelay doubling up
	// to retryMaxDelay unless a test shortened it: notify_retry.go).
	retry retrySchedule

	tokens tokenCache
}

// pendingChange is a presence change waiting for the dispatcher, with the
// subscriptions that covered the user when it happened.
type pendingChange struct {
	change PresenceChange
	subs   []*subscription
	at     time.Time // wall clock, for delivery latency
}

// item is one notification on its way to an endpoint.
type deliveryItem struct {
	sub       *subView
	presence  Presence // change notifications
	lifecycle string   // lifecycle notifications: the lifecycleEvent
	at        time.Time
	journal   int // its ID in the notification journal; 0: not journaled
}

// batch is one POST: its items and, once encoded, its body (a retry sends
// the same body again).
type deliveryBatch struct {
	items   []*deliveryItem
	body    []byte
	attempt int
	first   time.Time // Sim clock at the first attempt: retries stop 4 h later
	due     time.Time // for retries
}

func newNotifier(s *Sim) *notifier {
	return &notifier{s: s, subs: newSubStore(), wake: make(chan struct{}, 1),
		validationTimeout: validationTimeout, deliveryTimeout: deliveryTimeout, retryTimeout: retryTimeout,
		ctx: context.Background(), client: newDeliveryClient(), httpHosts: map[string]bool{},
		endpoints: map[string]*deliveryEndpoint{}, churns: map[string]*churn{}, tokens: tokenCache{m: map[tokenKey]cachedToken{}},
		retry: defaultRetrySchedule}
}

func newDeliveryClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4 * maxPostsPerURL
	return &http.Client{Transport: tr,
		// Graph does not follow redirects: a 3xx is a failed delivery.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (n *notifier) httpClient() *http.Client {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.client
}

// presenceChanged is called, under the presence lock, for every change of
// a user's aggregated presence; it must not block, so it only queues the
// change for the dispatcher.
func (n *notifier) presenceChanged(c PresenceChange) {
	subs := n.subs.covering(c.Presence.ID)
	if len(subs) == 0 {
		return
	}
	n.inMu.Lock()
	n.inbox = append(n.inbox, pendingChange{change: c, subs: subs, at: time.Now()})
	n.inMu.Unlock()
	n.poke()
}

func (n *notifier) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// run delivers notifications until ctx ends.
func (n *notifier) run(ctx context.Context) {
	n.mu.Lock()
	n.ctx = ctx
	n.mu.Unlock()
	defer n.stopChurns()
	t := time.NewTicker(tickInterval)
	defer t.Stop()
	var looked time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.wake:
			n.dispatch()
		case <-t.C:
			lifecycle := time.Since(looked) >= lifecycleInterval
			if lifecycle {
				looked = time.Now()
			}
			n.tickWith(lifecycle)
		}
	}
}

// TickNotifications does the delivery work that is due by the Sim's
// clock: expiring subscriptions, lifecycle notifications, retries and
// delayed notifications. Run does it five times a second; tests with a
// fake clock call it after moving time.
func (s *Sim) TickNotifications() { s.notify.tick() }

func (n *notifier) tick() { n.tickWith(true) }

// tickWith is tick, looking over the subscriptions for expiry and
// lifecycle events only with lifecycle.
func (n *notifier) tickWith(lifecycle bool) {
	now := n.s.clock()
	var events []*deliveryItem
	if lifecycle {
		events = n.checkLifecycle(now)
	}
	n.dispatch()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stats.LifecycleSent += int64(len(events))
	for _, it := range events {
		n.enqueueLocked(it, now)
	}
	for _, ep := range n.endpoints {
		ep.releaseDueLocked(n, now)
		n.pumpLocked(ep, now)
	}
}

// dispatch turns queued presence changes into notifications per endpoint.
func (n *notifier) dispatch() {
	n.dispatchMu.Lock()
	defer n.dispatchMu.Unlock()
	n.inMu.Lock()
	inbox := n.inbox
	n.inbox = nil
	n.inMu.Unlock()
	if len(inbox) == 0 {
		return
	}
	now := n.s.clock()
	items := make([]*deliveryItem, 0, len(inbox))
	paused := 0
	for _, pc := range inbox {
		for _, sub := range pc.subs {
			v := sub.view.Load()
			switch {
			case v.deleted || v.tenantID != pc.change.TenantID || !now.Before(v.expiration):
				continue
			case v.paused: // changes during a reauthorization pause are lost (docs/graph.md#lifecycle-notifications)
				paused++
				continue
			}
			items = append(items, &deliveryItem{sub: v, presence: pc.change.Presence, at: pc.at})
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stats.Changes += int64(len(inbox))
	n.stats.Dropped += int64(paused)
	touched := map[*deliveryEndpoint]bool{}
	for _, it := range items {
		n.journal.made(it)
		if ep := n.enqueueLocked(it, now); ep != nil {
			touched[ep] = true
		}
	}
	for ep := range touched {
		n.pumpLocked(ep, now)
	}
}

// enqueueLocked routes one notification to its endpoint, applying drop
// faults and the endpoint's slow or drop state.
func (n *notifier) enqueueLocked(it *deliveryItem, now time.Time) *deliveryEndpoint {
	url := it.sub.url
	if it.lifecycle != "" {
		url = it.sub.lifecycle
	}
	if f := n.faultWithLocked(url, it.sub.id, nil, func(f *NotificationFault) bool { return f.Drop > 0 }); f != nil {
		f.Drop--
		n.spendLocked(f)
		n.stats.Dropped++
		n.journal.dropped("fault", it)
		return nil
	}
	ep := n.endpointLocked(url)
	switch ep.modeAt(now) {
	case modeDrop:
		n.stats.Dropped++
		n.journal.dropped("endpoint", it)
		return nil
	case modeSlow:
		ep.hold(heldItem{due: now.Add(slowPenalty), it: it})
		return ep
	}
	if n.disorderLocked(ep, it, now) {
		return ep
	}
	ep.queue = append(ep.queue, it)
	ep.releaseOvertaken(it)
	return ep
}

// pumpLocked starts POSTs for ep while it has work and room.
func (n *notifier) pumpLocked(ep *deliveryEndpoint, now time.Time) {
	for ep.inflight < maxPostsPerURL {
		var b *deliveryBatch
		switch {
		case len(ep.ready) > 0:
			b, ep.ready = ep.ready[0], ep.ready[1:]
		case len(ep.queue) > 0:
			k := min(len(ep.queue), maxBatchItems)
			b = &deliveryBatch{items: ep.queue[:k:k], first: now}
			ep.queue = ep.queue[k:]
			if len(ep.queue) == 0 {
				ep.queue = nil
			}
		default:
			return
		}
		ep.inflight++
		ep.inflightItems += len(b.items)
		go n.send(n.ctx, ep, b)
	}
}

// send POSTs one batch and records the outcome.
func (n *notifier) send(ctx context.Context, ep *deliveryEndpoint, b *deliveryBatch) {
	if b.body == nil {
		b.body = n.encode(b.items)
	}
	timeout := n.deliveryTimeout
	if b.attempt > 0 {
		timeout = n.retryTimeout
	}
	n.mu.Lock()
	f := n.faultWithLocked(ep.url, "", b, func(f *NotificationFault) bool { return f.Status != 0 || f.LatencyMS != 0 })
	var status int
	var latency time.Duration
	if f != nil {
		status, latency = f.Status, time.Duration(f.LatencyMS)*time.Millisecond
		if f.Times > 0 && (f.Status != 0 || f.LatencyMS != 0) {
			if f.Times--; f.Times == 0 {
				n.removeFaultLocked(f.ID)
			}
		}
	}
	client := n.client
	n.stats.Posts++
	n.stats.Sent += int64(len(b.items))
	if b.attempt > 0 {
		n.stats.Retried += int64(len(b.items))
	}
	n.mu.Unlock()

	start := time.Now()
	if status == 0 {
		status = post(ctx, client, ep.url, b.body, timeout)
	}
	took := time.Since(start) + latency
	ok := status >= 200 && status < 300 && took <= timeout

	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.s.clock()
	ep.inflight--
	ep.inflightItems -= len(b.items)
	ep.record(now, took, b.attempt > 0)
	n.journal.posted(b.items, ok, now, start, took)
	if ok {
		done := time.Now()
		n.stats.Delivered += int64(len(b.items))
		for _, it := range b.items {
			if it.lifecycle != "" {
				n.stats.LifecycleDelivered++
			} else {
				n.latency.add(done.Sub(it.at))
			}
		}
		n.duplicateLocked(ep, b, now)
	} else {
		n.scheduleRetryLocked(ep, b, now)
	}
	n.pumpLocked(ep, now)
}

// scheduleRetryLocked backs a failed batch off exponentially, for up to
// four hours after its first attempt (docs/graph.md#delivery-and-acknowledgement).
func (n *notifier) scheduleRetryLocked(ep *deliveryEndpoint, b *deliveryBatch, now time.Time) {
	delay := n.retry.first << min(b.attempt, 16)
	delay = min(delay, n.retry.max)
	due := now.Add(delay)
	if due.Sub(b.first) > retryFor {
		n.stats.Dropped += int64(len(b.items))
		n.stats.Expired += int64(len(b.items))
		n.journal.dropped("expired", b.items...)
		return
	}
	b.attempt++
	b.due = due
	ep.retries = append(ep.retries, b)
}

// post sends one collection and answers the status, or 0 when no answer
// came in time.
func post(ctx context.Context, client *http.Client, url string, body []byte, timeout time.Duration) int {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()
	return resp.StatusCode
}

// endpointLocked is the delivery state of one URL.
func (n *notifier) endpointLocked(url string) *deliveryEndpoint {
	ep := n.endpoints[url]
	if ep == nil {
		ep = &deliveryEndpoint{url: url}
		n.endpoints[url] = ep
	}
	return ep
}

// lifecycleItem is a lifecycle notification for sub (docs/graph.md#lifecycle-notifications).
func lifecycleItem(sub *subscription, event string) *deliveryItem {
	return &deliveryItem{sub: sub.view.Load(), lifecycle: event, at: time.Now()}
}
