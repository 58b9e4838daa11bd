package deliver

import (
	"context"
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"presencebridge/internal/store"
)

// metrics are the deliverer's Prometheus series. Labels are bounded:
// outcomes and status classes are fixed sets, statuses outside a known
// list are "other", and endpoint ids are as many as the tenants' endpoints.
type metrics struct {
	attempts   *prometheus.CounterVec
	failures   *prometheus.CounterVec
	superseded prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, st *store.Store) *metrics {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "presencebridge_webhook_attempts_total",
			Help: "Webhook requests made, by outcome: delivered, failed, or gone (410: the endpoint was disabled).",
		}, []string{"outcome"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "presencebridge_webhook_failures_total",
			Help: "Failed webhook requests, by class (3xx, 4xx, 5xx, timeout, network) and HTTP status (none without a response).",
		}, []string{"class", "status"}),
		superseded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "presencebridge_webhook_superseded_total",
			Help: "Deliveries not sent because a newer state of the same user replaced them while their endpoint was failing.",
		}),
	}
	if reg == nil {
		return m
	}
	m.attempts = register(reg, m.attempts)
	m.failures = register(reg, m.failures)
	m.superseded = register(reg, m.superseded)
	register(reg, prometheus.Collector(backlogCollector{st}))
	return m
}

// register registers c, or returns the collector of the same name already
// registered (two deliverers in one process share their series).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err) // a programming error: two different metrics of one name
	}
	return c
}

// knownStatuses get a label of their own; others are "other".
var knownStatuses = map[int]bool{301: true, 302: true, 307: true, 308: true, 400: true, 401: true, 403: true, 404: true, 405: true,
	408: true, 409: true, 413: true, 415: true, 422: true, 429: true, 500: true, 501: true, 502: true, 503: true, 504: true}

func (m *metrics) attempt(status int, err error, ok bool) {
	switch {
	case ok:
		m.attempts.WithLabelValues("delivered").Inc()
		return
	case status == 410:
		m.attempts.WithLabelValues("gone").Inc()
		return
	}
	m.attempts.WithLabelValues("failed").Inc()
	class, label := "network", "none"
	var ne net.Error
	switch {
	case status != 0:
		class, label = strconv.Itoa(status/100)+"xx", "other"
		if knownStatuses[status] {
			label = strconv.Itoa(status)
		}
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		class = "timeout"
	}
	m.failures.WithLabelValues(class, label).Inc()
}

// backlogCollector reports the age of each endpoint's oldest pending
// delivery, read from the database at scrape time: every process reports
// the same (shared) figure, and it is right even while no deliverer runs.
type backlogCollector struct{ st *store.Store }

var oldestPendingDesc = prometheus.NewDesc("presencebridge_webhook_oldest_pending_seconds",
	"Age of the oldest pending (not yet delivered, dead or superseded) delivery, by endpoint.", []string{"endpoint"}, nil)

func (backlogCollector) Describe(ch chan<- *prometheus.Desc) { ch <- oldestPendingDesc }

func (b backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ages, err := b.st.OldestPending(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(oldestPendingDesc, err)
		return
	}
	for _, a := range ages {
		ch <- prometheus.MustNewConstMetric(oldestPendingDesc, prometheus.GaugeValue, a.Age.Seconds(), a.EndpointID.String())
	}
}
