package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

// A page's path or query holding text the database cannot store is 400
// before any page reads it (the tenant pages' and the console's tests
// show it on their own routes); the API's paths go on to the API, which
// names the parameter itself.
func TestAnAddressHoldingANulOrBytesNotUTF8Is400BeforeAnyPage(t *testing.T) {
	reached := ""
	srv, _ := newServer(t, Deps{Mount: func(r chi.Router) {
		r.HandleFunc("/*", func(w http.ResponseWriter, r *http.Request) { reached = r.URL.Path })
	}})
	for _, c := range []struct {
		path   string
		html   bool
		status int
	}{
		{"/portal/users/adele%00@contoso.example", true, 400},
		{"/portal/users/adele%FF@contoso.example", false, 400},
		{"/portal/users?q=adele%00", true, 400},
		{"/console/audit?actor=%FE", true, 400},
		{"/console/audit?%00=1", false, 400},
		{"/portal/users?q=adele", true, 200},
		{"/api/v1/users/adele%00", false, 200},
	} {
		reached = ""
		accept := "application/json"
		if c.html {
			accept = "text/html"
		}
		resp, body := get(t, srv.URL+c.path, "Accept", accept)
		if resp.StatusCode != c.status || (c.status == 400) != (reached == "") {
			t.Errorf("%s: %d, the page reached: %q", c.path, resp.StatusCode, reached)
		}
		if c.status == 400 && !strings.Contains(body, "not text") {
			t.Errorf("%s: the answer does not say what is wrong: %s", c.path, body)
		}
	}
}
