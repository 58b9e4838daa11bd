package deliver

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"presencebridge/internal/testkit"
)

// scrape gathers reg as "name{label=value,…}" → value.
func scrape(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// TestMetricsCountAttemptsFailuresSupersededAndTheOldestPending scrapes
// the registry the deliverer was given, through an outage and a 410.
func TestMetricsCountAttemptsFailuresSupersededAndTheOldestPending(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := newReceiver(t, func(n int) (int, http.Header) {
		if n <= 2 {
			return http.StatusServiceUnavailable, nil
		}
		return http.StatusNoContent, nil
	})
	ep := f.endpoint(t, f.tenant, r)
	reg := prometheus.NewRegistry()
	d := New(f.st, Options{AllowPrivate: true, Metrics: reg})
	user := uuid.New()
	f.change(t, f.tenant, user, "Busy", "InACall", "talking")
	d.RunOnce(ctx) // 503
	got := scrape(t, reg)
	if n := got["presencebridge_webhook_failures_total{class=5xx,status=503}"]; n != 1 {
		t.Errorf("failures{5xx,503} = %v in %v", n, got)
	}
	// The gauge is read from the database at scrape time.
	if age, ok := got["presencebridge_webhook_oldest_pending_seconds{endpoint="+ep.String()+"}"]; !ok || age < 0 || age > 60 {
		t.Errorf("oldest pending: %v, %v in %v", age, ok, got)
	}
	f.change(t, f.tenant, user, "Available", "Available", "available")
	d.RunOnce(ctx) // supersedes the first; the second: 503
	f.due(t)
	d.RunOnce(ctx) // delivered
	got = scrape(t, reg)
	for name, want := range map[string]float64{
		"presencebridge_webhook_attempts_total{outcome=failed}":                       2,
		"presencebridge_webhook_attempts_total{outcome=delivered}":                    1,
		"presencebridge_webhook_failures_total{class=5xx,status=503}":                 2,
		"presencebridge_webhook_superseded_total{}":                                   1,
		"presencebridge_webhook_oldest_pending_seconds{endpoint=" + ep.String() + "}": 0, // absent: nothing pending
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v (scraped %v)", name, got[name], want, got)
		}
	}
}

// TestA410DisablesTheEndpointWithOneLogLine: disabled is a state change,
// logged once, and counted as gone.
func TestA410DisablesTheEndpointWithOneLogLine(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := newReceiver(t, func(int) (int, http.Header) { return http.StatusGone, nil })
	ep := f.endpoint(t, f.tenant, r)
	logs := &testkit.Logs{}
	reg := prometheus.NewRegistry()
	d := New(f.st, Options{AllowPrivate: true, Logger: slog.New(slog.NewTextHandler(logs, nil)), Metrics: reg})
	for _, u := range []uuid.UUID{uuid.New(), uuid.New()} {
		f.change(t, f.tenant, u, "Busy", "InACall", "talking")
	}
	d.RunOnce(ctx)
	l := logs.Lines("endpoint disabled")
	if len(l) == 0 || !strings.Contains(l[0], "endpoint="+ep.String()) || !strings.Contains(l[0], "410") {
		t.Errorf("disabled log lines: %q", l)
	}
	if l := logs.Lines("endpoint failing"); len(l) != 0 {
		t.Errorf("a 410 was logged as failing: %q", l)
	}
	if n := scrape(t, reg); n["presencebridge_webhook_attempts_total{outcome=gone}"] < 1 {
		t.Errorf("attempts{gone} not counted: %v", n)
	}
}
