package web

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestInProductionMetricsAreServedOnlyOnTheAdminListener: /metrics tells
// whoever reads it the tenants' activity, the product's load and its
// failures, so production never serves it on the public listener. With an
// admin listener (PB_ADMIN_ADDR) it is served there; without one it is
// served nowhere, and the start says once how to get it. Development
// serves it on its one listener (TestWithoutAnAdminListener…).
func TestInProductionMetricsAreServedOnlyOnTheAdminListener(t *testing.T) {
	srv, logs := newServer(t, Deps{Production: true})
	if resp, _ := get(t, srv.URL+"/metrics"); resp.StatusCode != 404 {
		t.Errorf("production without an admin listener: /metrics %d, want 404", resp.StatusCode)
	}
	if lines := logs.Lines("PB_ADMIN_ADDR"); len(lines) != 1 || !strings.Contains(lines[0], "/metrics") {
		t.Errorf("the start does not say once how to get /metrics: %q", lines)
	}
	if resp, _ := get(t, srv.URL+"/healthz"); resp.StatusCode != 200 {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}

	h := New(Deps{Production: true, AdminPrefixes: []string{"/console"}})
	public, admin := httptest.NewUnstartedServer(h), httptest.NewUnstartedServer(nil)
	public.Listener = Listeners(public.Listener, AdminListener(admin.Listener))
	public.Start()
	t.Cleanup(public.Close)
	if resp, _ := get(t, public.URL+"/metrics"); resp.StatusCode != 404 {
		t.Errorf("production, public listener: /metrics %d, want 404", resp.StatusCode)
	}
	if resp, body := get(t, "http://"+admin.Listener.Addr().String()+"/metrics"); resp.StatusCode != 200 || !strings.Contains(body, "presencebridge_http_requests_total") {
		t.Errorf("production, admin listener: /metrics %d", resp.StatusCode)
	}
}
