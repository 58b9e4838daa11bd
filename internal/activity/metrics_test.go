package activity_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"presencebridge/internal/activity"
	"presencebridge/internal/store/storetest"
)

// TestMetricsNameOnlyTheBusiestTenants: with tenant labels asked for, the
// busiest tenants of the stored figures have series of their own and the
// rest are summed as "other"; without, no series names a tenant.
func TestMetricsNameOnlyTheBusiestTenants(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	st, busy := storetest.New(t)
	quiet := storetest.Tenant(t, st.Pool(), "Quiet")
	seed := activity.NewRecorder(st, activity.Options{})
	for range 5 {
		seed.Notified(busy, time.Now())
	}
	seed.Notified(quiet, time.Now())
	if err := seed.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	rec := activity.NewRecorder(st, activity.Options{Metrics: reg, TenantLabels: 1, Every: time.Hour})
	done := make(chan struct{})
	go func() { rec.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	// Run picks the busiest tenants as it starts; until it has, they are
	// "other" too.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		rec.Notified(busy, time.Now())
		if got := scrape(t, reg); strings.Contains(got, `tenant="`+busy.String()+`"`) || time.Now().After(deadline) {
			break
		}
	}
	rec.Notified(quiet, time.Now())
	rec.Delivered(quiet, time.Now(), 20*time.Millisecond)
	got := scrape(t, reg)
	if !strings.Contains(got, `presencebridge_tenant_notifications_total{tenant="other"} `) || strings.Contains(got, quiet.String()) ||
		!strings.Contains(got, `presencebridge_delivery_latency_seconds_count{tenant="other"} 1`) {
		t.Errorf("with one tenant labelled, the quiet tenant is not summed as other:\n%s", got)
	}
	if !strings.Contains(got, `tenant="`+busy.String()+`"`) {
		t.Errorf("the busiest tenant has no series of its own:\n%s", got)
	}

	plain := prometheus.NewRegistry()
	unlabelled := activity.NewRecorder(st, activity.Options{Metrics: plain})
	unlabelled.Delivered(busy, time.Now(), time.Second)
	if got := scrape(t, plain); strings.Contains(got, "tenant=") || !strings.Contains(got, `presencebridge_tenant_deliveries_total{outcome="delivered"} 1`) {
		t.Errorf("without tenant labels:\n%s", got)
	}
}

func scrape(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	w := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return w.Body.String()
}
