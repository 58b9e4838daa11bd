package portal_test

import (
	"net/http"
	"strings"
	"testing"

	"presencebridge/web/portal/portaltest"
)

// TestPortalSignInsFromOneAddressAreLimitedAMinute: the portal's sign-in
// start and the identity platform's callback take at most 60 requests a
// minute from one client address, together: beyond, 429 with Retry-After
// and a page that says to wait.
func TestPortalSignInsFromOneAddressAreLimitedAMinute(t *testing.T) {
	p := portaltest.New(t)
	b := p.Browser()
	for i := range 60 { // the documented default
		path := "/portal/signin"
		if i%2 == 1 {
			path = "/portal/callback?state=x&code=y"
		}
		if pg := b.Get(path); pg.Status == http.StatusTooManyRequests {
			t.Fatalf("request %d of 60 refused", i+1)
		}
	}
	for _, path := range []string{"/portal/signin", "/portal/callback?state=x&code=y"} {
		resp, err := http.Get(p.Base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%s past the limit: %d, Retry-After %q", path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if pg := b.Get("/portal/signin"); !strings.Contains(pg.Text(), "Too many sign-in attempts") {
		t.Errorf("past the limit the page says: %s", pg.Text())
	}
}
