package templates

import (
	"math"
	"strconv"
	"strings"
)

// LineChart is lines over time drawn in SVG with no text inside: its
// labels are HTML beside and below it (.chart in app.css), so they keep
// their size on a phone while the plot stretches to the width given
// (preserveAspectRatio none, strokes that do not scale). A chart needs no
// script.
type LineChart struct {
	ID      string // its elements' ids start with it
	Title   string
	Desc    string // the figures in words, for those who cannot see the lines
	Lines   []ChartLine
	YLabels []string  // top to bottom, evenly spaced, each on a grid line
	Grid    []float64 // the grid lines' heights in the plot
	XLabels []string  // left to right, evenly spaced
}

// ChartLine is one line of a chart.
type ChartLine struct {
	Label string
	Class string // its colour in app.css: "" (the brand's), "p99", "failed"
	Path  string // SVG path data in the plot's box (chartWidth × chartHeight)
}

// The plot's box: any size, as it is stretched to the page.
const (
	chartWidth  = 600
	chartHeight = 200
)

// ChartSeries is values to draw as a line, evenly spaced across the
// chart; NaN is no value (the line has a gap there).
type ChartSeries struct {
	Label  string
	Class  string
	Values []float64
}

// Axis maps values to heights and labels its grid lines.
type Axis struct {
	log      bool
	min, max float64 // the bottom and the top; log: their logarithms
	labels   []string
}

// CountAxis is a linear axis from 0 to a round number at or above max,
// with a grid line at its middle.
func CountAxis(max float64) Axis {
	top := roundUp(max)
	return Axis{max: top, labels: []string{formatCount(top), formatCount(top / 2), "0"}}
}

// DurationAxis is a logarithmic axis of milliseconds from the power of ten
// at or below lo to the one at or above hi, with a grid line at each power
// of ten: latencies that span 5 ms to 30 s all stay readable.
func DurationAxis(lo, hi float64) Axis {
	bottom := math.Floor(math.Log10(max(lo, 0.1)))
	top := max(math.Ceil(math.Log10(max(hi, 0.1))), bottom+1)
	a := Axis{log: true, min: bottom, max: top}
	for p := top; p >= bottom; p-- {
		a.labels = append(a.labels, FormatMillis(math.Pow(10, p)))
	}
	return a
}

// height is where v is in the plot, 0 at the top.
func (a Axis) height(v float64) float64 {
	lo, hi := 0.0, a.max
	if a.log {
		v, lo = math.Log10(max(v, math.Pow(10, a.min))), a.min
	}
	if hi <= lo {
		return chartHeight
	}
	f := min(max((v-lo)/(hi-lo), 0), 1)
	return chartHeight * (1 - f)
}

// NewLineChart lays series out on y, each value at its step's middle; x
// are the labels under the chart.
func NewLineChart(id, title, desc string, y Axis, x []string, series ...ChartSeries) LineChart {
	c := LineChart{ID: id, Title: title, Desc: desc, YLabels: y.labels, XLabels: x}
	for i := range y.labels {
		c.Grid = append(c.Grid, float64(chartHeight*i)/float64(max(len(y.labels)-1, 1)))
	}
	for _, s := range series {
		c.Lines = append(c.Lines, ChartLine{Label: s.Label, Class: s.Class, Path: path(s.Values, y)})
	}
	return c
}

// path is the SVG path of values: a move at the start and after each gap,
// a line to each next value. A value alone between gaps is a segment of
// no length, which the line's round cap draws as a dot.
func path(values []float64, y Axis) string {
	var b strings.Builder
	step := float64(chartWidth) / float64(max(len(values), 1))
	gap := true
	for i, v := range values {
		if math.IsNaN(v) {
			gap = true
			continue
		}
		if gap {
			b.WriteString("M")
		} else {
			b.WriteString("L")
		}
		b.WriteString(strconv.FormatFloat((float64(i)+0.5)*step, 'f', 1, 64) + " " + strconv.FormatFloat(y.height(v), 'f', 1, 64))
		if gap {
			b.WriteString("h0")
		}
		gap = false
	}
	return b.String()
}

// roundUp is the least of 1, 2, 5 or 10 times a power of ten at or above
// v (1 at least).
func roundUp(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// formatCount writes a count or rate shortly: 0.5, 12, 1,500, 25k.
func formatCount(v float64) string {
	switch {
	case v >= 10000:
		return FormatInt(int64(math.Round(v/1000))) + "k"
	case v == math.Trunc(v):
		return FormatInt(int64(v))
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// FormatInt writes n with thousands separated: 12,345.
func FormatInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}

// FormatMillis writes a duration given in milliseconds as people read
// latencies: 0.4 ms, 23 ms, 1.2 s, 40 s, 11 min.
func FormatMillis(ms float64) string {
	switch {
	case ms < 1:
		return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
	case ms < 1000:
		return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
	case ms < 10000:
		return strings.TrimSuffix(strconv.FormatFloat(ms/1000, 'f', 1, 64), ".0") + " s"
	case ms < 120000:
		return strconv.FormatFloat(ms/1000, 'f', 0, 64) + " s"
	}
	return strconv.FormatFloat(ms/60000, 'f', 0, 64) + " min"
}
