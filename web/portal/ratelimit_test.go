package portal

import (
	"html"
	"net/http"
	"strings"
	"testing"
)

// TestPortalSignInsFromOneAddressAreLimitedAMinute: the portal's sign-in
// start and the identity platform's callback take at most 60 requests a
// minute from one client address, together: beyond, 429 with Retry-After
// and a page that says to wait.
func TestPortalSignInsFromOneAddressAreLimitedAMinute(t *testing.T) {
	f := newFixture(t, nil)
	b := f.browser()
	for i := range 60 { // the documented default
		path := "/portal/signin"
		if i%2 == 1 {
			path = "/portal/callback?state=x&code=y"
		}
		if p := b.do("GET", path, nil); p.status == http.StatusTooManyRequests {
			t.Fatalf("request %d of 60 refused", i+1)
		}
	}
	for _, path := range []string{"/portal/signin", "/portal/callback?state=x&code=y"} {
		resp, err := http.Get(f.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%s past the limit: %d, Retry-After %q", path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if p := b.do("GET", "/portal/signin", nil); !strings.Contains(html.UnescapeString(tagRE.ReplaceAllString(p.body, "")), "Too many sign-in attempts") {
		t.Errorf("past the limit the page says: %s", p.body)
	}
}
