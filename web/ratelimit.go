package web

import (
	"net"
	"net/http"
	"time"

	"github.com/go-chi/httprate"
)

// Sign-ins are what anyone on the internet may start: each start writes a
// session and an OAuth state, each callback costs a code exchange with
// the identity platform (up to 30 s), a password sign-in a guess at a
// Microsoft account. LimitPerAddress bounds them per client address, so
// that one client cannot turn the product into a load on the database or
// on Microsoft; the tenant API has its per-key limit (web/api), the staff
// console its own (web/console).

// DefaultSignInLimit is the sign-in requests — starts and callbacks
// together — one client address may make a minute on one surface (the
// portal, onboarding), per instance: an admin onboarding a tenant with ten
// monitors makes about twenty-five, and an office behind one address may
// sign several people in at once.
const DefaultSignInLimit = 60

// LimitPerAddress answers refused to a client address past n requests a
// minute through it, with Retry-After (a sliding window, counted in this
// instance's memory by httprate). The address is the connection's, as the
// console's: no header is trusted, so behind a proxy that ends HTTP every
// client shares the proxy's budget — raise n there (PB_SIGNIN_RATE_LIMIT),
// or have the proxy limit.
func LimitPerAddress(n int, refused http.HandlerFunc) func(http.Handler) http.Handler {
	return httprate.LimitBy(n, time.Minute, addressKey, httprate.WithLimitHandler(refused))
}

func addressKey(r *http.Request) (string, error) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "ip:" + httprate.CanonicalizeIP(host), nil
}
