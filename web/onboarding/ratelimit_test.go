package onboarding

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestSignInsFromOneAddressAreLimitedAMinute: the sign-in starts and the
// identity platform's callbacks (each a code exchange with Microsoft) take
// at most 60 requests a minute from one client address, together: beyond,
// 429 with Retry-After and a page that says to wait. The other pages are
// not held back.
func TestSignInsFromOneAddressAreLimitedAMinute(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	callbacks := []string{"/onboarding/signin/callback", "/onboarding/consent/callback", "/onboarding/monitors/callback"}
	for i := range 60 { // the documented default
		if p := c.get(callbacks[i%len(callbacks)] + "?state=x&code=y"); p.status == http.StatusTooManyRequests {
			t.Fatalf("request %d of 60 refused", i+1)
		}
	}
	for _, path := range callbacks {
		p := c.get(path + "?state=x&code=y")
		if s, err := strconv.Atoi(p.header.Get("Retry-After")); p.status != http.StatusTooManyRequests || err != nil || s <= 0 || s > 60 {
			t.Fatalf("%s past the limit: %d, Retry-After %q", path, p.status, p.header.Get("Retry-After"))
		}
		if !strings.Contains(text(p.body), "Too many sign-in attempts") {
			t.Errorf("%s past the limit says: %s", path, text(p.body))
		}
	}
	if p := c.get("/onboarding/"); p.status == http.StatusTooManyRequests {
		t.Errorf("the onboarding page is held back by the sign-in limit: %d", p.status)
	}
}
