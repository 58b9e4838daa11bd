package deliver

import (
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
)

// The circuit breaker: an endpoint whose attempts fail BreakAfter times in
// a row is "open": its deliveries are not claimed, so a dead receiver does
// not take workers or stretch every delivery's backoff. After Cooldown the
// circuit is half-open and one delivery is sent as a probe, whatever its
// schedule says (store.ClaimProbe). A failed probe opens it again for
// twice as long, up to MaxCooldown; a successful one closes it, and every
// pending delivery of the endpoint becomes due at once.
//
// An endpoint's Retry-After (429 or 503) holds the whole endpoint
// (throttle): nothing is sent to it until the latest time it asked us to
// wait has passed, whichever delivery was answered. It holds for the
// circuit too: it stays open, and sends no probe, until then, however
// short its cooldown — the probe ignores the schedule, which is where a
// delivery keeps its own Retry-After. The fault suite caught the probe of
// a 1 s cooldown arriving 1.0–1.2 s after a 429 asking for 2 s (FAULTS.md,
// scenario (g)). The store refuses such a probe and claim as well
// (store.HoldEndpoint), for processes whose circuits did not see the
// answer; a delivery another process had claimed before the answer and is
// already sending is not called back.
//
// Why short: presence is live. With the old 30 s cooldown (and retries
// minutes apart) a receiver that came back waited up to the next retry of
// each delivery, minutes. Here a receiver that returns is found by the
// next probe, at most MaxCooldown (5 s by default, plus up to 20 %
// jitter) later, and the users' newest states follow at once: within
// 10 s of its return however long it was down. The cost is one request
// per MaxCooldown per failing endpoint and process, which no receiver
// notices. The state lives in the process (each deliverer learns on its
// own, within MaxCooldown), which also bounds how long another process's
// breaker can delay a "retry now".

// circuit is an endpoint's failure state in this process; none: healthy.
type circuit struct {
	tenant       uuid.UUID
	failingSince time.Time
	failures     int // consecutive failed attempts
	open         bool
	openUntil    time.Time
	cooldown     time.Duration
	probing      bool
	// retryUntil is the latest time a failed attempt's Retry-After asked
	// us to wait until (zero: none); the circuit stays open until then.
	retryUntil time.Time
}

// halfOpen reports whether the circuit waits for a probe.
func (c *circuit) halfOpen(now time.Time) bool {
	return c.open && !c.probing && !now.Before(c.openUntil)
}

// trip opens the circuit for cooldown (with up to 20 % jitter, so that
// processes and endpoints do not probe in step), and at least until the
// endpoint's Retry-After.
func (c *circuit) trip(now time.Time, cooldown time.Duration) {
	c.open, c.cooldown = true, cooldown
	c.openUntil = later(now.Add(cooldown+time.Duration(rand.Int64N(int64(cooldown/5)+1))), c.retryUntil)
}

// failed records a failed attempt (a probe's or not), with the Retry-After
// it was answered (0: none), and reports whether it made the endpoint
// failing (it was healthy).
func (d *Deliverer) failed(endpoint, tenant uuid.UUID, probe bool, retryAfter time.Duration) (c circuit, began bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	b := d.circuits[endpoint]
	if b == nil {
		b = &circuit{tenant: tenant, failingSince: now}
		d.circuits[endpoint] = b
		began = true
	}
	b.failures++
	if retryAfter > 0 {
		b.retryUntil = later(b.retryUntil, now.Add(retryAfter))
	}
	switch {
	case probe:
		b.probing = false
		b.trip(now, min(2*b.cooldown, d.opts.MaxCooldown))
	case !b.open && b.failures >= d.opts.BreakAfter:
		b.trip(now, d.opts.Cooldown)
	case b.open:
		// An attempt sent before the circuit opened answered since.
		b.openUntil = later(b.openUntil, b.retryUntil)
	}
	return *b, began
}

// succeeded closes an endpoint's circuit; recovered is the state it was
// in when it had been failing.
func (d *Deliverer) succeeded(endpoint uuid.UUID) (recovered *circuit) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.circuits[endpoint]
	delete(d.circuits, endpoint)
	return b
}

// forget drops an endpoint's circuit (it was disabled).
func (d *Deliverer) forget(endpoint uuid.UUID) {
	d.mu.Lock()
	delete(d.circuits, endpoint)
	d.mu.Unlock()
}

// open reports whether nothing may be sent to an endpoint now but its
// probe — its circuit is open, or its Retry-After holds (throttle) — and
// until when.
func (d *Deliverer) open(endpoint uuid.UUID) (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	until, held := d.holds[endpoint]
	if held && !time.Now().Before(until) {
		delete(d.holds, endpoint)
		until, held = time.Time{}, false
	}
	if b := d.circuits[endpoint]; b != nil && b.open {
		return later(b.openUntil, until), true
	}
	return until, held
}

// throttle holds an endpoint in this process for retryAfter from now, as
// it asked (a 429 or 503 with Retry-After): a delivery of it claimed
// before, still waiting for a slot, is put back until then rather than
// sent (dispatch). Retry-After speaks of the endpoint, not of the one
// request answered — "how long to wait before making a new request" (RFC
// 6585) — and the claims of every process leave the endpoint out until
// then (store.HoldEndpoint). This is set the moment the answer arrives,
// before that record: a send that starts meanwhile here would not wait.
// Unlike the circuit, a success does not end it: the endpoint may answer
// a request it had before the 429 and still want the wait.
func (d *Deliverer) throttle(endpoint uuid.UUID, retryAfter time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	if d.holds == nil {
		d.holds = map[uuid.UUID]time.Time{}
	}
	for id, until := range d.holds {
		if !now.Before(until) {
			delete(d.holds, id)
		}
	}
	d.holds[endpoint] = later(d.holds[endpoint], now.Add(retryAfter))
}

// probes marks the half-open circuits as probing and returns them; wait
// is how long until the next open circuit becomes half-open (0: none).
func (d *Deliverer) probes() (due []uuid.UUID, wait time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	for id, b := range d.circuits {
		switch {
		case b.halfOpen(now):
			b.probing = true
			due = append(due, id)
		case b.open && !b.probing:
			if w := b.openUntil.Sub(now); wait == 0 || w < wait {
				wait = w
			}
		}
	}
	return due, wait
}

// unprobed puts a half-open circuit back to wait a cooldown: it had
// nothing to probe with (or the probe could not be claimed).
func (d *Deliverer) unprobed(endpoint uuid.UUID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if b := d.circuits[endpoint]; b != nil && b.probing {
		b.probing = false
		b.trip(time.Now(), b.cooldown)
	}
}

// failing reports whether any endpoint is failing in this process.
func (d *Deliverer) failing() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.circuits) > 0
}

// skipped lists the endpoints the claim must leave out: open circuits,
// half-open ones included (they get one probe, not a batch).
func (d *Deliverer) skipped() []uuid.UUID {
	d.mu.Lock()
	defer d.mu.Unlock()
	skip := []uuid.UUID{}
	for id, b := range d.circuits {
		if b.open {
			skip = append(skip, id)
		}
	}
	return skip
}
