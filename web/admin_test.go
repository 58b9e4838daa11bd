package web

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
)

// One handler on two listeners: the console and /metrics answer only on
// the admin listener, the customer-facing surfaces only on the public one;
// the probes and static assets on both.
func TestWithAnAdminListenerTheConsoleAndMetricsAreNotFoundOnThePublicOne(t *testing.T) {
	h := New(Deps{AdminPrefixes: []string{"/console"}, Mount: func(r chi.Router) {
		r.Get("/console/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("console")) })
		r.Get("/portal", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("portal")) })
	}})
	// One server on both listeners, as serve runs them.
	public, admin := httptest.NewUnstartedServer(h), httptest.NewUnstartedServer(nil)
	public.Listener = Listeners(public.Listener, AdminListener(admin.Listener))
	public.Start()
	t.Cleanup(public.Close)
	admin.URL = "http://" + admin.Listener.Addr().String()
	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct {
		srv  *httptest.Server
		path string
		want int
	}{
		{public, "/console/", 404}, {public, "/console", 404}, {public, "/console/tenants/x/", 404}, {public, "/metrics", 404},
		{public, "/portal", 200}, {public, "/", 200}, {public, "/healthz", 200}, {public, "/consoles", 404},
		{admin, "/console/", 200}, {admin, "/metrics", 200}, {admin, "/healthz", 200},
		{admin, "/portal", 404}, {admin, "/api/v1/tenant", 404}, {admin, "/", 303},
	} {
		resp, err := noRedirects.Get(c.srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		name := "public"
		if c.srv == admin {
			name = "admin"
		}
		if resp.StatusCode != c.want {
			t.Errorf("%s listener %s: %d, want %d", name, c.path, resp.StatusCode, c.want)
		}
	}
}

func TestWithoutAnAdminListenerOneListenerServesTheConsoleAndMetrics(t *testing.T) {
	srv, _ := newServer(t, Deps{Mount: func(r chi.Router) {
		r.Get("/console/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("console")) })
	}})
	for _, path := range []string{"/console/", "/metrics", "/"} {
		if resp, _ := get(t, srv.URL+path); resp.StatusCode != 200 {
			t.Errorf("%s: %d, want 200", path, resp.StatusCode)
		}
	}
}
