// Package retryafter reads the HTTP Retry-After header, which Microsoft
// Graph sends with 429 and 503 answers and webhook receivers may send
// too: a number of seconds or an HTTP date (RFC 9110, section 10.2.3).
package retryafter

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Parse reads a Retry-After value; ok is false when there is none or it
// is neither seconds nor a date. A date in the past is zero.
func Parse(v string) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
		return time.Duration(secs * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}
