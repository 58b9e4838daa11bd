package web

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics counts and times requests by method, route pattern (not raw
// path, which would give one series per user id) and status code.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	labels := []string{"method", "route", "code"}
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "presencebridge_http_requests_total",
			Help: "HTTP requests served, by method, route pattern and status code.",
		}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "presencebridge_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by method, route pattern and status code.",
			Buckets: prometheus.DefBuckets,
		}, labels),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

func (m *httpMetrics) record(method, route, code string, d time.Duration) {
	m.requests.WithLabelValues(method, route, code).Inc()
	m.duration.WithLabelValues(method, route, code).Observe(d.Seconds())
}
