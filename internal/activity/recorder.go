package activity

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"presencebridge/internal/store"
)

// Options configure a Recorder.
type Options struct {
	// Every is how often the figures are written (default 10 s): what a
	// worker killed outright loses, and how far the charts' last minute
	// lags.
	Every  time.Duration
	Logger *slog.Logger
	// Metrics, when set, is where the Prometheus series are registered
	// (the app's registry; one Recorder per registry).
	Metrics prometheus.Registerer
	// TenantLabels is how many of the busiest tenants get a tenant label
	// on those series (PB_METRICS_TENANT_LABELS); 0: the series have no
	// tenant label at all.
	TenantLabels int
}

// Recorder adds up, per tenant and minute, what the processor and the
// deliverer report, and writes it every Options.Every. A nil *Recorder
// records nothing, so a pipeline built without one (a test) pays nothing.
type Recorder struct {
	st      *store.Store
	opts    Options
	metrics *metrics

	mu      sync.Mutex
	pending map[minuteKey]*store.ActivityMinute
}

type minuteKey struct {
	tenant uuid.UUID
	minute int64 // Unix seconds
}

// LastFlush bounds the write of what is left when the process stops, a
// part of its graceful shutdown.
const LastFlush = 2 * time.Second

// maxPending bounds the minutes kept while the database cannot take them
// (a thousand tenants for an hour and a half); past it, what failed to be
// written is dropped, and the loss logged.
const maxPending = 100_000

// NewRecorder returns a Recorder writing to st.
func NewRecorder(st *store.Store, opts Options) *Recorder {
	if opts.Every <= 0 {
		opts.Every = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Recorder{st: st, opts: opts, metrics: newMetrics(opts.Metrics, opts.TenantLabels), pending: map[minuteKey]*store.ActivityMinute{}}
}

// Notified counts a Graph notification item of a tenant, received at at.
func (r *Recorder) Notified(tenant uuid.UUID, at time.Time) {
	if r == nil {
		return
	}
	r.add(tenant, at, func(m *store.ActivityMinute) { m.Notifications++ })
	r.metrics.notified(tenant)
}

// Delivered counts a webhook delivered at at, latency after the change
// was ready to go (see deliver's latency rule).
func (r *Recorder) Delivered(tenant uuid.UUID, at time.Time, latency time.Duration) {
	if r == nil {
		return
	}
	b := Bucket(latency)
	r.add(tenant, at, func(m *store.ActivityMinute) { m.Delivered++; m.Latency[b]++ })
	r.metrics.delivered(tenant, latency)
}

// Failed counts a failed webhook attempt at at.
func (r *Recorder) Failed(tenant uuid.UUID, at time.Time) {
	if r == nil {
		return
	}
	r.add(tenant, at, func(m *store.ActivityMinute) { m.Failed++ })
	r.metrics.failed(tenant)
}

func (r *Recorder) add(tenant uuid.UUID, at time.Time, f func(*store.ActivityMinute)) {
	minute := at.Truncate(time.Minute)
	k := minuteKey{tenant, minute.Unix()}
	r.mu.Lock()
	m := r.pending[k]
	if m == nil {
		m = &store.ActivityMinute{TenantID: tenant, Minute: minute}
		r.pending[k] = m
	}
	f(m)
	r.mu.Unlock()
}

// Run writes the figures every Options.Every, and once more when ctx
// ends; with tenant labels it also picks the busiest tenants at once and
// every five minutes.
func (r *Recorder) Run(ctx context.Context) {
	flush := time.NewTicker(r.opts.Every)
	defer flush.Stop()
	var relabel <-chan time.Time
	if r.metrics.labelled() {
		t := time.NewTicker(relabelEvery)
		defer t.Stop()
		relabel = t.C
		r.relabel(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), LastFlush)
			r.flush(last)
			cancel()
			return
		case <-flush.C:
			r.flush(ctx)
		case <-relabel:
			r.relabel(ctx)
		}
	}
}

func (r *Recorder) flush(ctx context.Context) {
	if err := r.Flush(ctx); err != nil && ctx.Err() == nil {
		r.opts.Logger.Warn("activity: writing the per-minute figures failed; trying again with the next", "err", err)
	}
}

// Flush writes what was recorded since the last write. What fails to be
// written is kept for the next (up to maxPending minutes).
func (r *Recorder) Flush(ctx context.Context) error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	batch := r.pending
	r.pending = make(map[minuteKey]*store.ActivityMinute, len(batch))
	r.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	minutes := make([]store.ActivityMinute, 0, len(batch))
	for _, m := range batch {
		minutes = append(minutes, *m)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := r.st.AddActivity(ctx, minutes)
	if err == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending)+len(batch) > maxPending {
		r.opts.Logger.Error("activity: per-minute figures dropped: the database has not taken them for too long", "minutes", len(batch))
		return err
	}
	for k, m := range batch {
		if p := r.pending[k]; p != nil {
			p.Add(m)
			continue
		}
		r.pending[k] = m
	}
	return err
}
