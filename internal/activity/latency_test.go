package activity

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestEveryLatencyFallsInTheBucketWhoseRangeHoldsIt(t *testing.T) {
	cases := []time.Duration{0, time.Microsecond, 999 * time.Microsecond, time.Millisecond, 1499 * time.Microsecond,
		1500 * time.Microsecond, 20 * time.Millisecond, time.Second, 10 * time.Minute, 11 * time.Minute, 4 * time.Hour}
	for _, b := range bounds {
		cases = append(cases, b-1, b, b+1)
	}
	for _, d := range cases {
		i := Bucket(d)
		lo, hi := BucketRange(i)
		if d < lo || (hi != 0 && d >= hi) {
			t.Errorf("%v is in bucket %d, which holds [%v, %v)", d, i, lo, hi)
		}
	}
	if lo, hi := BucketRange(Buckets - 1); hi != 0 || lo < 10*time.Minute || lo > 11*time.Minute {
		t.Errorf("the last bucket holds [%v, %v); want from about 11 min with no end", lo, hi)
	}
}

func TestPercentilesOfAHistogramAreWithinABucketOfTheTrueOnes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		var h Histogram
		var all []time.Duration
		// Most deliveries fast, a tail slow: the shape the chart shows.
		for range 1000 + r.IntN(5000) {
			d := time.Duration(5e6 + r.ExpFloat64()*15e6)
			if r.IntN(50) == 0 {
				d = time.Duration(r.Float64() * float64(30*time.Second))
			}
			all = append(all, d)
			h[Bucket(d)]++
		}
		slices.Sort(all)
		for _, q := range []float64{0.5, 0.99} {
			want := all[int(q*float64(len(all)))-1]
			got, ok := h.Quantile(q)
			if !ok || float64(got) < float64(want)/growth || float64(got) > float64(want)*growth {
				t.Errorf("p%v = %v, the true one %v: more than a bucket apart", q*100, got, want)
			}
		}
	}
	var empty Histogram
	if _, ok := empty.Quantile(0.5); ok {
		t.Error("an empty histogram has a median")
	}
}

func TestASeriesHasAtMost300StepsEndingWithTheLastWholeMinuteOrHour(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 42, 17, 0, time.UTC)
	for _, c := range []struct {
		span   string
		step   time.Duration
		points int
		to     time.Time
	}{
		{"1h", time.Minute, 60, now.Truncate(time.Minute)},
		{"24h", 5 * time.Minute, 288, now.Truncate(time.Minute)},
		{"7d", time.Hour, 168, now.Truncate(time.Hour)},
		{"30d", 3 * time.Hour, 240, now.Truncate(time.Hour)},
	} {
		s := fill(frame(SpanOf(c.span), now), nil)
		if s.Step != c.step || len(s.Points) != c.points || !s.To.Equal(c.to) ||
			!s.From.Add(time.Duration(c.points)*c.step).Equal(s.To) || s.To.Sub(s.From) < s.Span.D {
			t.Errorf("%s: %d points of %v from %v to %v; want %d of %v to %v, covering the span", c.span, len(s.Points), s.Step,
				s.From, s.To, c.points, c.step, c.to)
		}
	}
	if SpanOf("1y") != DefaultSpan {
		t.Error("an unknown span is not the default")
	}
}
