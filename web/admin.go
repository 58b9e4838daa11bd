package web

import (
	"net"
	"net/http"
	"strings"

	"presencebridge/static"
)

// The admin listener (PB_ADMIN_ADDR) serves what only the vendor should
// reach — the staff console and /metrics — on an address of its own, which
// a deployment keeps off the internet. One server and one router serve
// both listeners (Listeners), so both drain alike at shutdown; connections
// accepted by the admin listener say so in their local address, which
// net/http hands every request (http.LocalAddrContextKey). separateAdmin
// answers 404 to an admin path asked on the public listener, and to a
// public path asked on the admin one, as if neither existed there.

// AdminListener marks every connection ln accepts as the admin
// listener's; serve it with the product's handler (New with
// Deps.AdminPrefixes), alone or beside the public one (Listeners).
func AdminListener(ln net.Listener) net.Listener { return adminListener{ln} }

type adminListener struct{ net.Listener }

func (l adminListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return adminConn{c}, nil
}

type adminConn struct{ net.Conn }

func (c adminConn) LocalAddr() net.Addr { return adminAddr{c.Conn.LocalAddr()} }

// adminAddr is the local address of an admin listener's connection.
type adminAddr struct{ net.Addr }

func onAdminListener(r *http.Request) bool {
	_, ok := r.Context().Value(http.LocalAddrContextKey).(adminAddr)
	return ok
}

// separateAdmin keeps /metrics and the paths under prefixes to the admin
// listener, and that listener to them and the probes and static assets
// both share; its / leads to the first prefix.
func separateAdmin(prefixes []string, notFound http.HandlerFunc) func(http.Handler) http.Handler {
	admin := func(path string) bool {
		if path == "/metrics" || strings.HasPrefix(path, profilerPrefix+"/") {
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
