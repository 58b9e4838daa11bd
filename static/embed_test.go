package static

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestPathCarriesTheContentHash(t *testing.T) {
	b, err := FS.ReadFile("css/app.css")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	want := "/static/css/app.css?v=" + hex.EncodeToString(sum[:6])
	if got := Path("css/app.css"); got != want {
		t.Fatalf("Path(css/app.css) = %q, want %q", got, want)
	}
}

func TestPathPanicsOnAnUnknownAsset(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Path of a missing asset returned a URL that would 404")
		}
	}()
	Path("css/missing.css")
}

func TestHandlerCachesOnlyTheCurrentVersionForever(t *testing.T) {
	cases := []struct {
		url          string
		status       int
		cacheControl string
		contentType  string
	}{
		{Path("css/app.css"), 200, "public, max-age=31536000, immutable", "text/css; charset=utf-8"},
		{Path("img/favicon.svg"), 200, "public, max-age=31536000, immutable", "image/svg+xml"},
		{"/static/css/app.css?v=0123456789ab", 200, "no-cache", "text/css; charset=utf-8"},
		{"/static/css/app.css", 200, "no-cache", "text/css; charset=utf-8"},
		{"/static/css/missing.css", 404, "", ""},
		{"/static/css/", 404, "", ""},
		{"/static/css", 404, "", ""},
		{"/static/", 404, "", ""},
		{"/static/../embed.go", 404, "", ""},
	}
	h := Handler()
	for _, c := range cases {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.url, nil))
		if rec.Code != c.status {
			t.Errorf("%s: status %d, want %d", c.url, rec.Code, c.status)
			continue
		}
		if c.status != http.StatusOK {
			continue
		}
		if got := rec.Header().Get("Cache-Control"); got != c.cacheControl {
			t.Errorf("%s: Cache-Control %q, want %q", c.url, got, c.cacheControl)
		}
		if got := rec.Header().Get("Content-Type"); got != c.contentType {
			t.Errorf("%s: Content-Type %q, want %q", c.url, got, c.contentType)
		}
	}
}
