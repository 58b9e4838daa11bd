package web

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/a-h/templ"
)

// Problem writes an RFC 9457 problem+json body: type about:blank, so the
// title is the status's or a short fixed summary, and detail, when given,
// says what the client can do about it. What went wrong inside stays in
// the logs. It is the one problem writer for the pages and web/api.
func Problem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail,omitempty"`
	}{"about:blank", title, status, detail})
}

// render writes a templ component with a status code. It renders into a
// buffer first, so a failing template yields a clean 500, not half a page.
func render(w http.ResponseWriter, r *http.Request, status int, c templ.Component, logger *slog.Logger) {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		logger.LogAttrs(r.Context(), slog.LevelError, "render page",
			slog.String("path", r.URL.Path), slog.Any("err", err))
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	buf.WriteTo(w)
}

// acceptsHTML tells a browser from an API client or a probe, to pick
// between the 404 page and a problem+json answer.
func acceptsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}
