// Package activity measures what the pipeline does for each tenant — Graph
// notifications received, webhooks delivered and failed, and how long a
// change took from our receipt to the platform — in per-minute figures
// kept 30 days, for the charts of the tenant pages and the console, and as
// Prometheus series.
//
// The processor and the deliverer tell a Recorder what happened; it adds
// it up in memory and writes every tenant's minutes in one statement
// every few seconds (store.AddActivity), so the hot path pays a map
// update, never a query. Series reads them back, downsampled to about
// 300 points whatever the span.
package activity

import (
	"math"
	"time"

	"presencebridge/internal/store"
)

// Buckets is how many latency buckets a histogram has: below 1 ms, then
// each 1.5 times as wide as the one before up to 1.5^33 ms (~11 min),
// then everything longer (a delivery retried for hours). Fixed bounds let
// minutes be added up and percentiles be read from any range of them,
// within a bucket's width: a percentile is never off by more than half.
const Buckets = store.LatencyBuckets

// growth is how much wider each bucket is than the one before.
const growth = 1.5

// bounds[i] is bucket i's upper bound (exclusive); the last bucket has
// none.
var bounds = func() [Buckets - 1]time.Duration {
	var b [Buckets - 1]time.Duration
	for i := range b {
		b[i] = time.Duration(float64(time.Millisecond) * math.Pow(growth, float64(i)))
	}
	return b
}()

// Bucket is the bucket of a latency.
func Bucket(d time.Duration) int {
	if d < time.Millisecond {
		return 0
	}
	i := min(int(math.Log(float64(d)/float64(time.Millisecond))/math.Log(growth))+1, Buckets-1)
	// Rounding at a bound may land one off: the bounds decide.
	for i > 1 && d < bounds[i-1] {
		i--
	}
	for i < Buckets-1 && d >= bounds[i] {
		i++
	}
	return i
}

// BucketRange is what bucket i holds: from lo (inclusive) to hi
// (exclusive); hi is 0 for the last, which has no end.
func BucketRange(i int) (lo, hi time.Duration) {
	if i > 0 {
		lo = bounds[i-1]
	}
	if i < Buckets-1 {
		hi = bounds[i]
	}
	return lo, hi
}

// UpperBounds are the buckets' upper bounds in seconds, as Prometheus
// histograms take them (the last bucket is +Inf).
func UpperBounds() []float64 {
	s := make([]float64, len(bounds))
	for i, b := range bounds {
		s[i] = b.Seconds()
	}
	return s
}

// Histogram counts latencies per bucket.
type Histogram [Buckets]int64

// Count is how many latencies h holds.
func (h *Histogram) Count() int64 {
	var n int64
	for _, c := range h {
		n += c
	}
	return n
}

// Add adds o to h.
func (h *Histogram) Add(o *Histogram) {
	for i, c := range o {
		h[i] += c
	}
}

// Quantile is the q-quantile (0.5 for the median, 0.99) of h, read within
// its bucket on the log scale the buckets follow (linearly in the first;
// the last, which has no end, gives its start). ok is false when h is
// empty.
func (h *Histogram) Quantile(q float64) (d time.Duration, ok bool) {
	total := h.Count()
	if total == 0 {
		return 0, false
	}
	rank := q * float64(total)
	var below float64
	for i, c := range h {
		if c == 0 || below+float64(c) < rank {
			below += float64(c)
			continue
		}
		frac := max(0, rank-below) / float64(c)
		lo, hi := BucketRange(i)
		switch {
		case hi == 0:
			return lo, true
		case lo == 0:
			return time.Duration(frac * float64(hi)), true
		}
		return time.Duration(float64(lo) * math.Pow(float64(hi)/float64(lo), frac)), true
	}
	lo, _ := BucketRange(Buckets - 1)
	return lo, true
}
