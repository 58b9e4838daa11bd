package tenantui

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"

	"presencebridge/internal/activity"
	"presencebridge/internal/english"
	"presencebridge/internal/store"
	"presencebridge/templates"
)

// activityRoutes is Activity: the tenant's notifications, deliveries and
// latency over a span (?span=1h|24h|7d|30d), as charts.
func (h *handler) activityRoutes(r chi.Router) {
	r.Get("/", h.activity)
}

func (h *handler) activity(w http.ResponseWriter, r *http.Request) {
	v := h.Viewer(r)
	s, err := activity.TenantSeries(r.Context(), h.Store, v.TenantID, activity.SpanOf(r.URL.Query().Get("span")), h.Now())
	if err != nil {
		h.fail(w, r, "read activity", err)
		return
	}
	h.render(w, r, http.StatusOK, templates.TenantActivity(h.frame(r, "activity"), ActivityView(s, "this tenant", v.Base+"/activity/")))
}

// OverallActivity is every tenant's figures together over the span
// spanKey names ("" or unknown: the last 24 hours), laid out for
// templates.ActivityCharts on the page at base: the console's overview.
func OverallActivity(ctx context.Context, st *store.Store, spanKey, base string, now time.Time) (templates.ActivityView, error) {
	s, err := activity.OverallSeries(ctx, st, activity.SpanOf(spanKey), now)
	if err != nil {
		return templates.ActivityView{}, fmt.Errorf("overall activity: %w", err)
	}
	return ActivityView(s, "all tenants", base), nil
}

// ActivityView lays a series out for templates.ActivityCharts: scope says
// whose figures they are, base is the page's URL, to which the links to
// the other spans add ?span=.
func ActivityView(s activity.Series, scope, base string) templates.ActivityView {
	v := templates.ActivityView{Scope: scope, Empty: s.Total.Notifications == 0 && s.Total.Delivered == 0 && s.Total.Failed == 0}
	for _, sp := range activity.Spans {
		v.Spans = append(v.Spans, templates.ActivitySpan{Label: sp.Label, URL: base + "?" + url.Values{"span": {sp.Key}}.Encode(),
			Current: sp.Key == s.Span.Key})
	}
	from, to := s.From.UTC().Format(dated), s.To.UTC().Format(dated)
	v.Period = fmt.Sprintf("%s – %s UTC, in steps of %s.", from, to, english.Count(int(s.Step.Minutes()), "minute", "minutes"))
	if s.Step == time.Minute {
		v.Period = fmt.Sprintf("%s – %s UTC, minute by minute.", from, to)
	}
	notified, failed := rates(s, func(p activity.Point) int64 { return p.Notifications }), rates(s, func(p activity.Point) int64 { return p.Failed })
	p50, p99 := quantiles(s, 0.5), quantiles(s, 0.99)
	v.Figures = []templates.ActivityFigure{
		{ID: "figure-notifications", Label: "Notifications", Value: templates.FormatInt(s.Total.Notifications)},
		{ID: "figure-delivered", Label: "Webhooks delivered", Value: templates.FormatInt(s.Total.Delivered)},
		{ID: "figure-failed", Label: "Failed attempts", Value: templates.FormatInt(s.Total.Failed)},
		{ID: "figure-latency", Label: "Latency", Value: latencyText(&s.Total.Latency)},
	}
	x := []string{stamp(s, s.From), stamp(s, s.From.Add(s.To.Sub(s.From)/2)), stamp(s, s.To)}
	lo, hi := extent(p50)
	_, hi99 := extent(p99)
	if math.IsNaN(lo) { // nothing delivered: an axis of 1 ms to 1 s
		lo, hi, hi99 = 1, 1000, 1000
	}
	v.Charts = []templates.LineChart{
		templates.NewLineChart("chart-notifications", "Notifications per minute", rateText(s, notified), templates.CountAxis(peak(notified)), x,
			templates.ChartSeries{Label: "Notifications", Values: notified}),
		templates.NewLineChart("chart-latency", "Latency from receipt to the platform's answer, p50 and p99",
			"Latency: "+latencyText(&s.Total.Latency)+" over the period; "+rangeText("p50", p50)+"; "+rangeText("p99", p99)+".",
			templates.DurationAxis(lo, max(hi, hi99)), x,
			templates.ChartSeries{Label: "p50", Values: p50}, templates.ChartSeries{Label: "p99", Class: "p99", Values: p99}),
		templates.NewLineChart("chart-failed", "Failed webhook attempts per minute", rateText(s, failed), templates.CountAxis(peak(failed)), x,
			templates.ChartSeries{Label: "Failed attempts", Class: "failed", Values: failed}),
	}
	return v
}

// dated is how times are written where a day's time alone is not enough.
const dated = "2 Jan 15:04"

// stamp writes t as the span's labels do: the time of day within a day,
// the date beyond.
func stamp(s activity.Series, t time.Time) string {
	if s.Span.D <= 24*time.Hour {
		return t.UTC().Format("15:04")
	}
	return t.UTC().Format(dated)
}

// rates is what count gives for each step, per minute.
func rates(s activity.Series, count func(activity.Point) int64) []float64 {
	v := make([]float64, len(s.Points))
	for i, p := range s.Points {
		v[i] = s.PerMinute(count(p))
	}
	return v
}

// quantiles is the q-quantile of each step's latency, NaN where nothing
// was delivered, in milliseconds.
func quantiles(s activity.Series, q float64) []float64 {
	v := make([]float64, len(s.Points))
	for i := range s.Points {
		v[i] = math.NaN()
		if d, ok := s.Points[i].Latency.Quantile(q); ok {
			v[i] = float64(d) / float64(time.Millisecond)
		}
	}
	return v
}

// peak is the largest of values, 0 when there is none.
func peak(values []float64) float64 {
	_, hi := extent(values)
	return max(hi, 0)
}

// extent is the least and largest of values that are numbers (NaN, NaN
// when none is).
func extent(values []float64) (lo, hi float64) {
	lo, hi = math.NaN(), math.NaN()
	for _, v := range values {
		if math.IsNaN(v) {
			continue
		}
		if math.IsNaN(lo) || v < lo {
			lo = v
		}
		if math.IsNaN(hi) || v > hi {
			hi = v
		}
	}
	return lo, hi
}

// rateText says how busy the span was: the average per minute and the
// busiest step's.
func rateText(s activity.Series, perMinute []float64) string {
	busiest, at := 0.0, -1
	var sum float64
	for i, r := range perMinute {
		sum += r
		if r > busiest {
			busiest, at = r, i
		}
	}
	if at < 0 {
		return "none in this period"
	}
	when := "in the minute from " + stamp(s, s.Points[at].At)
	if s.Step > time.Minute {
		when = fmt.Sprintf("in the %s from %s", english.Count(int(s.Step.Minutes()), "minute", "minutes"), stamp(s, s.Points[at].At))
	}
	return fmt.Sprintf("%s a minute on average, at most %s a minute %s UTC", rate(sum/float64(len(perMinute))), rate(busiest), when)
}

func rate(r float64) string {
	if r >= 10 {
		return templates.FormatInt(int64(math.Round(r)))
	}
	return fmt.Sprintf("%.2g", r)
}

func latencyText(h *activity.Histogram) string {
	p50, ok := h.Quantile(0.5)
	if !ok {
		return "nothing delivered"
	}
	p99, _ := h.Quantile(0.99)
	return fmt.Sprintf("p50 %s, p99 %s", millis(p50), millis(p99))
}

func rangeText(name string, values []float64) string {
	lo, hi := extent(values)
	if math.IsNaN(lo) {
		return name + " none"
	}
	return fmt.Sprintf("%s of a step from %s to %s", name, templates.FormatMillis(lo), templates.FormatMillis(hi))
}

func millis(d time.Duration) string {
	return templates.FormatMillis(float64(d) / float64(time.Millisecond))
}
