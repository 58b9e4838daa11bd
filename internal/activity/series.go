package activity

import (
	"context"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// Span is a period a chart shows, ending now.
type Span struct {
	Key   string // as a query parameter: "24h"
	Label string // "Last 24 hours"
	D     time.Duration
}

// Spans are the periods offered, shortest first; figures are kept for the
// longest.
var Spans = []Span{
	{"1h", "Last hour", time.Hour},
	{"24h", "Last 24 hours", 24 * time.Hour},
	{"7d", "Last 7 days", 7 * 24 * time.Hour},
	{"30d", "Last 30 days", Retention},
}

// DefaultSpan is the span shown when none is asked for.
var DefaultSpan = Spans[1]

// Retention is how long the per-minute figures are kept.
const Retention = 30 * 24 * time.Hour

// SpanOf is the span of a key, or DefaultSpan when the key names none.
func SpanOf(key string) Span {
	for _, s := range Spans {
		if s.Key == key {
			return s
		}
	}
	return DefaultSpan
}

// maxPoints is how many points a series has at most: about a chart's
// width in pixels on a phone.
const maxPoints = 300

// Series is a span of figures in equal steps.
type Series struct {
	Span Span
	// To is the end of the last whole minute, or hour with steps of hours:
	// the one in progress is still being counted.
	From, To time.Time
	Step     time.Duration
	Points   []Point // one per step, from From; steps without traffic are zero
	Total    Point   // the whole span
}

// Point is the figures of one step.
type Point struct {
	At            time.Time
	Notifications int64
	Delivered     int64
	Failed        int64
	Latency       Histogram
}

// PerMinute is n, counted over one step of s, as a rate per minute.
func (s Series) PerMinute(n int64) float64 { return float64(n) / s.Step.Minutes() }

// TenantSeries reads a tenant's figures over span up to now.
func TenantSeries(ctx context.Context, st *store.Store, tenantID uuid.UUID, span Span, now time.Time) (Series, error) {
	s := frame(span, now)
	pts, err := st.TenantActivity(ctx, tenantID, s.From, s.To, s.Step)
	return fill(s, pts), err
}

// OverallSeries reads every tenant's figures together over span up to now.
func OverallSeries(ctx context.Context, st *store.Store, span Span, now time.Time) (Series, error) {
	s := frame(span, now)
	pts, err := st.OverallActivity(ctx, s.From, s.To, s.Step)
	return fill(s, pts), err
}

// frame fixes a series' steps: at most maxPoints of them, ending with
// the last whole minute; past half an hour, steps are whole hours ending
// with the last whole hour, summed from the hours' rows (720 for 30 days
// where the minutes are 43,200). The span is stretched to a whole number
// of steps (by less than one).
func frame(span Span, now time.Time) Series {
	step, to := ceil(span.D/maxPoints, time.Minute), now.Truncate(time.Minute)
	if step > 30*time.Minute {
		step, to = ceil(step, time.Hour), now.Truncate(time.Hour)
	}
	steps := int64(ceil(span.D, step) / step)
	return Series{Span: span, From: to.Add(-time.Duration(steps) * step), To: to, Step: step}
}

// ceil is d rounded up to a multiple of unit.
func ceil(d, unit time.Duration) time.Duration {
	if r := d.Truncate(unit); r < d {
		return r + unit
	}
	return d
}

// fill places the stored points on s's steps and sums them.
func fill(s Series, pts []store.ActivityPoint) Series {
	n := int(s.To.Sub(s.From) / s.Step)
	s.Points = make([]Point, n)
	for i := range s.Points {
		s.Points[i].At = s.From.Add(time.Duration(i) * s.Step)
	}
	s.Total.At = s.From
	for _, p := range pts {
		i := int(p.At.Sub(s.From) / s.Step)
		if i < 0 || i >= n {
			continue
		}
		pt := &s.Points[i]
		pt.Notifications, pt.Delivered, pt.Failed = p.Notifications, p.Delivered, p.Failed
		pt.Latency = Histogram(p.Latency)
		s.Total.Notifications += p.Notifications
		s.Total.Delivered += p.Delivered
		s.Total.Failed += p.Failed
		s.Total.Latency.Add(&pt.Latency)
	}
	return s
}
