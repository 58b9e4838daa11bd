package web

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// The profiler shows a process's internals: only the admin listener
// serves it, and nothing does without one, in development too.
func TestTheProfilerIsServedOnlyOnTheAdminListener(t *testing.T) {
	for _, production := range []bool{false, true} {
		srv, _ := newServer(t, Deps{Production: production})
		if resp, _ := get(t, srv.URL+"/debug/pprof/"); resp.StatusCode != 404 {
			t.Errorf("production %v, no admin listener: /debug/pprof/ %d, want 404", production, resp.StatusCode)
		}
	}
	h := New(Deps{Production: true, AdminPrefixes: []string{"/console"}})
	public, admin := httptest.NewUnstartedServer(h), httptest.NewUnstartedServer(nil)
	public.Listener = Listeners(public.Listener, AdminListener(admin.Listener))
	public.Start()
	t.Cleanup(public.Close)
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap?debug=1", "/debug/pprof/cmdline"} {
		if resp, _ := get(t, public.URL+path); resp.StatusCode != 404 {
			t.Errorf("public listener: %s %d, want 404", path, resp.StatusCode)
		}
	}
	if resp, body := get(t, "http://"+admin.Listener.Addr().String()+"/debug/pprof/"); resp.StatusCode != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("admin listener: /debug/pprof/ %d", resp.StatusCode)
	}
	if resp, body := get(t, "http://"+admin.Listener.Addr().String()+"/debug/pprof/heap?debug=1"); resp.StatusCode != 200 || !strings.Contains(body, "heap profile") {
		t.Errorf("admin listener: the heap profile %d", resp.StatusCode)
	}
}
