package web

import (
	"context"
	"net/http"
	"strings"

	"presencebridge/static"
)

// The admin listener (PB_ADMIN_ADDR) serves what only the vendor should
// reach — the staff console and /metrics — on an address of its own, which
// a deployment keeps off the internet. One router serves both listeners;
// requests through the admin listener are marked (AdminListener), and
// separateAdmin answers 404 to an admin path asked on the public listener,
// and to a public path asked on the admin one, as if neither existed there.

type adminListenerKey struct{}

// AdminListener marks every request h serves as come through the admin
// listener: serve the product's handler (New with Deps.AdminPrefixes) on
// that listener wrapped in it.
func AdminListener(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), adminListenerKey{}, true)))
	})
}

func onAdminListener(r *http.Request) bool { v, _ := r.Context().Value(adminListenerKey{}).(bool); return v }

// separateAdmin keeps /metrics and the paths under prefixes to the admin
// listener, and that listener to them and the probes and static assets
// both share; its / leads to the first prefix.
func separateAdmin(prefixes []string, notFound http.HandlerFunc) func(http.Handler) http.Handler {
	admin := func(path string) bool {
		if path == "/metrics" {
			return true
		}
		for _, p := range prefixes {
			if path == p || strings.HasPrefix(path, p+"/") {
				return true
			}
		}
		return false
	}
	shared := func(path string) bool {
		return path == "/healthz" || path == "/readyz" || strings.HasPrefix(path, static.Prefix)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			path, viaAdmin := r.URL.Path, onAdminListener(r)
			switch {
			case viaAdmin && path == "/" && len(prefixes) > 0:
				http.Redirect(w, r, prefixes[0]+"/", http.StatusSeeOther)
			case shared(path), viaAdmin == admin(path):
				next.ServeHTTP(w, r)
			default:
				notFound(w, r)
			}
		})
	}
}
