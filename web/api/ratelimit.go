package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"presencebridge/web"

	"github.com/go-chi/httprate"
)

// Rate limits: each API key may make Deps.RateLimit requests a second (a
// sliding window, per instance); beyond, the answer is 429 problem+json
// with Retry-After. Every answer carries the key's budget in GitHub's
// headers (X-RateLimit-Limit, -Remaining, -Reset as a Unix time), which
// httprate writes, and the IETF draft's RateLimit-Policy
// (draft-ietf-httpapi-ratelimit-headers). A request without a
// well-formed key is limited by its address instead, so that guessing
// keys is slowed as well.

// DefaultRateLimit is the requests per second one key may make.
const DefaultRateLimit = 200

// limitHeaders are httprate's headers in the form net/http sends them
// (textproto.CanonicalMIMEHeaderKey: "X-Ratelimit-Remaining"), which a
// client reads as the same header: spelt "X-RateLimit-Remaining", as
// httprate's defaults are, each Header.Set made the canonical name anew —
// allocations of every request (BenchmarkSingleUserPresenceAt2000). The
// limit, the same in every answer, is ours (see rateLimit).
var limitHeaders = httprate.ResponseHeaders{
	Remaining:  "X-Ratelimit-Remaining",
	Increment:  "X-Ratelimit-Increment",
	Reset:      "X-Ratelimit-Reset",
	RetryAfter: "Retry-After",
}

// The headers that are the same in every answer, as net/http sends them
// (see limitHeaders).
const (
	limitHeader  = "X-Ratelimit-Limit"
	policyHeader = "Ratelimit-Policy"
)

func (d Deps) rateLimit() func(http.Handler) http.Handler {
	limiter := httprate.NewRateLimiter(d.RateLimit, time.Second,
		httprate.WithKeyFuncs(limitKey), httprate.WithResponseHeaders(limitHeaders),
		httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
			web.Problem(w, http.StatusTooManyRequests, http.StatusText(http.StatusTooManyRequests), "This API key made more than "+strconv.Itoa(d.RateLimit)+
				" requests in a second. Retry after the time Retry-After gives.")
		}))
	// Every answer shares these values: a header's values are only ever
	// replaced (Set) or appended to (Add, which copies a full slice), and
	// net/http copies them all when the status is written — where
	// httprate's Set made a string and a slice of each for every request.
	limit := []string{strconv.Itoa(d.RateLimit)}
	policy := []string{strconv.Itoa(d.RateLimit) + ";w=1"}
	return func(next http.Handler) http.Handler {
		limited := limiter.Handler(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h[limitHeader], h[policyHeader] = limit[:1:1], policy[:1:1]
			limited.ServeHTTP(w, r)
		})
	}
}

// limitKey is the API key's prefix (pbk_<prefix>_…), or the client's
// address when there is no well-formed key.
func limitKey(r *http.Request) (string, error) {
	if secret, ok := trimBearer(r.Header.Get("Authorization")); ok {
		if rest, ok := strings.CutPrefix(secret, "pbk_"); ok {
			if prefix, _, ok := strings.Cut(rest, "_"); ok && len(prefix) == 8 {
				return "key:" + prefix, nil
			}
		}
	}
	return "ip:" + httprate.CanonicalizeIP(remoteIP(r)), nil
}

func remoteIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}
