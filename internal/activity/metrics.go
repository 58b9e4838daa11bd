package activity

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Recorder's Prometheus series: the same figures as the
// charts, counted by this process. A tenant label would make a series per
// tenant — thousands, each histogram 37 series — so it exists only when
// asked for, for the busiest few (Options.TenantLabels), and the rest are
// summed under tenant="other"; a tenant that stops being among them loses
// its series (rate() over the "other" series sees it come back).
type metrics struct {
	notifications *prometheus.CounterVec
	deliveries    *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	labels        int
	// names holds the labelled tenants and their label values.
	names atomic.Pointer[map[uuid.UUID]string]
}

// relabelEvery is how often the busiest tenants are picked again, from
// the last relabelOver of figures.
const (
	relabelEvery = 5 * time.Minute
	relabelOver  = 24 * time.Hour
)

// otherTenants is the tenant label of every tenant not labelled by its id.
const otherTenants = "other"

func newMetrics(reg prometheus.Registerer, labels int) *metrics {
	if reg == nil {
		return nil
	}
	var tenant []string
	if labels > 0 {
		tenant = []string{"tenant"}
	}
	m := &metrics{labels: labels,
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "presencebridge_tenant_notifications_total",
			Help: "Graph change notification items the processor attributed to a tenant (committed).",
		}, tenant),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "presencebridge_tenant_deliveries_total",
			Help: "Webhook attempts by outcome: delivered, or failed (any failure, 410 included).",
		}, append([]string{"outcome"}, tenant...)),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "presencebridge_delivery_latency_seconds",
			Help: "From Graph's notification reaching us (or the re-read that found the change) to the webhook's answer, " +
				"debounce holds and the time before a replay left out.",
			Buckets: UpperBounds(),
		}, tenant),
	}
	reg.MustRegister(m.notifications, m.deliveries, m.latency)
	return m
}

func (m *metrics) labelled() bool { return m != nil && m.labels > 0 }

// label is the tenant's label values: none when nothing is labelled.
func (m *metrics) label(tenant uuid.UUID, before ...string) []string {
	if m.labels == 0 {
		return before
	}
	name := otherTenants
	if names := m.names.Load(); names != nil {
		if n, ok := (*names)[tenant]; ok {
			name = n
		}
	}
	return append(before, name)
}

func (m *metrics) notified(tenant uuid.UUID) {
	if m != nil {
		m.notifications.WithLabelValues(m.label(tenant)...).Inc()
	}
}

func (m *metrics) delivered(tenant uuid.UUID, latency time.Duration) {
	if m != nil {
		m.deliveries.WithLabelValues(m.label(tenant, "delivered")...).Inc()
		m.latency.WithLabelValues(m.label(tenant)...).Observe(latency.Seconds())
	}
}

func (m *metrics) failed(tenant uuid.UUID) {
	if m != nil {
		m.deliveries.WithLabelValues(m.label(tenant, "failed")...).Inc()
	}
}

// setLabelled makes ids the labelled tenants, deleting the series of
// those that no longer are.
func (m *metrics) setLabelled(ids []uuid.UUID) {
	next := make(map[uuid.UUID]string, len(ids))
	for _, id := range ids {
		next[id] = id.String()
	}
	old := m.names.Swap(&next)
	if old == nil {
		return
	}
	for id, name := range *old {
		if _, kept := next[id]; !kept {
			gone := prometheus.Labels{"tenant": name}
			m.notifications.DeletePartialMatch(gone)
			m.deliveries.DeletePartialMatch(gone)
			m.latency.DeletePartialMatch(gone)
		}
	}
}

// relabel picks the busiest tenants from the stored figures: the same set
// in every worker, where each process's own counts would differ.
func (r *Recorder) relabel(ctx context.Context) {
	ids, err := r.st.BusiestTenants(ctx, time.Now().Add(-relabelOver), r.metrics.labels)
	if err != nil {
		if ctx.Err() == nil {
			r.opts.Logger.Warn("activity: finding the busiest tenants for the metrics' labels failed; keeping the last", "err", err)
		}
		return
	}
	r.metrics.setLabelled(ids)
}
