package web

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"presencebridge/internal/store"
	"presencebridge/templates"
)

// storableURL answers 400 to a page's request whose path or query holds
// text PostgreSQL cannot store (store.Storable): a user's reference in the
// path of a tenant page, a search or a filter of a list reached a query as
// they were, and the database's refusal ("invalid byte sequence for
// encoding UTF8: 0x00") was a 500. No link of ours makes such a URL, so a
// page saying so is all it needs; a form's fields are checked by the form,
// which shows them again with the message. The API (/api/) checks its own
// parameters and names them in its problem.
func storableURL(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/api/") || storableQuery(r.URL.RawQuery) && store.Storable(r.URL.Path) {
				next.ServeHTTP(w, r)
				return
			}
			detail := "The address holds a character that is not text: a NUL (U+0000), or bytes that are not UTF-8."
			if !acceptsHTML(r) {
				Problem(w, http.StatusBadRequest, "Bad Request", detail)
				return
			}
			render(w, r, http.StatusBadRequest, templates.BadRequest(detail), logger)
		})
	}
}

// storableQuery says whether every name and value of a query is storable.
func storableQuery(raw string) bool {
	if raw == "" {
		return true
	}
	q, _ := url.ParseQuery(raw)
	for k, vs := range q {
		if !store.Storable(k) {
			return false
		}
		for _, v := range vs {
			if !store.Storable(v) {
				return false
			}
		}
	}
	return true
}
