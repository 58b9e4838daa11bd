package web

import (
	"net/http"
	"strings"
	"testing"

	"presencebridge/static"
)

func TestPagesRenderWithTheLayout(t *testing.T) {
	srv, _ := newServer(t, Deps{Version: "v9.9.9"})
	resp, body := get(t, srv.URL+"/", "Accept", "text/html")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
		!strings.Contains(body, "Presence Bridge v9.9.9") || !strings.Contains(body, static.Path("css/app.css")) ||
		!strings.Contains(body, "Teams presence") {
		t.Fatalf("home: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, body = get(t, srv.URL+"/no/such/page", "Accept", "text/html,application/xhtml+xml")
	if resp.StatusCode != 404 || !strings.Contains(body, "Page not found") || !strings.Contains(body, "Presence Bridge v9.9.9") {
		t.Fatalf("HTML 404: %d\n%s", resp.StatusCode, body)
	}
	resp, body = get(t, srv.URL+"/api/v1/nothing", "Accept", "text/html")
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(body, `"status":404`) {
		t.Fatalf("API 404: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

func TestStaticAssetsServedImmutableAtTheirCurrentVersion(t *testing.T) {
	srv, _ := newServer(t, Deps{})
	resp, body := get(t, srv.URL+static.Path("css/app.css"))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" || !strings.Contains(body, ":root") {
		t.Fatalf("stylesheet: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
		t.Fatalf("versioned asset Cache-Control = %q", cc)
	}
	resp, _ = get(t, srv.URL+"/static/css/app.css?v=stale")
	if cc := resp.Header.Get("Cache-Control"); resp.StatusCode != 200 || cc != "no-cache" {
		t.Fatalf("stale version: %d Cache-Control %q, want 200 no-cache", resp.StatusCode, cc)
	}
	for _, path := range []string{"/static/css/missing.css", "/static/css/", "/static/../go.mod"} {
		if resp, _ := get(t, srv.URL+path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s = %d, want 404", path, resp.StatusCode)
		}
	}
}
