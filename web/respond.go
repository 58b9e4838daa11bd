package web

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
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

// render writes a templ component with a status code (RenderPage), or a
// bare 500 when it fails to render.
func render(w http.ResponseWriter, r *http.Request, status int, c templ.Component, logger *slog.Logger) {
	if err := RenderPage(w, r, status, c); err != nil {
		logger.LogAttrs(r.Context(), slog.LevelError, "render page",
			slog.String("path", r.URL.Path), slog.Any("err", err))
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
	}
}

// RenderPage writes a templ component as an HTML page with a status. It
// renders into a buffer first, so a failing template writes nothing — the
// caller answers its error page — rather than half a page. It is the one
// page writer of the surfaces (onboarding, portal, tenant pages).
func RenderPage(w http.ResponseWriter, r *http.Request, status int, c templ.Component) error {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	buf.WriteTo(w)
	return nil
}

// SignInCSP is the shell's Content-Security-Policy (middleware.go) with
// the identity platform at loginURL added to form-action: browsers apply
// form-action to the redirect that follows a form, and a sign-in or
// Authorize button is a form whose answer redirects to Microsoft.
func SignInCSP(loginURL string) string {
	formAction := "'self'"
	if u, err := url.Parse(loginURL); err == nil && u.Scheme != "" && u.Host != "" {
		formAction += " " + u.Scheme + "://" + u.Host
	}
	return "default-src 'self'; base-uri 'self'; form-action " + formAction + "; frame-ancestors 'none'; " +
		"object-src 'none'; img-src 'self' data:"
}

// acceptsHTML tells a browser from an API client or a probe, to pick
// between the 404 page and a problem+json answer.
func acceptsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}
