package web

import (
	"net/http/httptest"
	"testing"
)

// The API's clients and the pages' probes read the same problem shape
// (RFC 9457): detail appears only when there is something to say.
func TestProblemWritesRFC9457WithDetailOnlyWhenGiven(t *testing.T) {
	for _, tc := range []struct {
		detail, want string
	}{
		{"", `{"type":"about:blank","title":"Not Found","status":404}` + "\n"},
		{"Try again.", `{"type":"about:blank","title":"Not Found","status":404,"detail":"Try again."}` + "\n"},
	} {
		rec := httptest.NewRecorder()
		Problem(rec, 404, "Not Found", tc.detail)
		if rec.Code != 404 || rec.Header().Get("Content-Type") != "application/problem+json" || rec.Body.String() != tc.want {
			t.Errorf("Problem(detail %q) = %d %q %s, want 404 application/problem+json %s",
				tc.detail, rec.Code, rec.Header().Get("Content-Type"), rec.Body, tc.want)
		}
	}
}
