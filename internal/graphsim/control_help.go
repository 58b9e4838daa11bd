package graphsim

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
)

// ctlRoute is one route of the control API. The router mounts the same
// list the help page at GET /_sim/ prints, so the page cannot leave a
// route out or list one that is gone.
type ctlRoute struct {
	method, path string
	// body is an example of the JSON body the route takes ("" for none);
	// a test sends each to its route to check it is still accepted.
	body   string
	doc    string
	handle http.HandlerFunc
}

// controlTable lists every control route, grouped by subject.
func (s *Sim) controlTable() [][]ctlRoute {
	return [][]ctlRoute{s.accountControlRoutes(), s.directoryControlRoutes(), s.consentControlRoutes(),
		s.presenceControlRoutes(), s.notifyControlRoutes(), s.journalControlRoutes(), s.retryControlRoutes(),
		s.loadControlRoutes(), s.clockControlRoutes()}
}

// controlRoutes mounts the control API under /_sim/: seeding, faults and
// state changes that in real life an admin or the user would cause, and
// the help page listing them.
func (s *Sim) controlRoutes(r chi.Router) {
	groups := s.controlTable()
	r.Route("/_sim", func(r chi.Router) {
		r.Get("/", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprint(w, controlHelp(groups))
		})
		for _, g := range groups {
			for _, rt := range g {
				r.Method(rt.method, rt.path, rt.handle)
			}
		}
	})
}

// controlHelp is the help page: each route with what it does and an
// example body.
func controlHelp(groups [][]ctlRoute) string {
	var b strings.Builder
	b.WriteString(`graphsim control API: what a Microsoft 365 admin, a user or an outage would do.

Bodies are JSON (unknown fields are refused); answers are JSON, errors {"error": "..."}.
{id} is a tenant's, user's, group's or fault's id, as the path says; {clientId} an app's client id.
For example, a user joins a call:
  curl -X POST -d '{"availability": "Busy", "activity": "InACall"}' <graphsim>/_sim/users/<user id>/presence

GET    /_sim/
       this page
`)
	for _, g := range groups {
		b.WriteString("\n")
		for _, rt := range g {
			fmt.Fprintf(&b, "%-6s /_sim%s\n       %s\n", rt.method, rt.path, rt.doc)
			if rt.body != "" {
				fmt.Fprintf(&b, "       body %s\n", strings.ReplaceAll(rt.body, "\n", "\n            "))
			}
		}
	}
	return b.String()
}
