package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

func TestMetricsCountRequestsByRoutePatternNotRawPath(t *testing.T) {
	srv, _ := newServer(t, Deps{Mount: func(r chi.Router) {
		r.Get("/tenants/{id}", func(w http.ResponseWriter, r *http.Request) {})
		r.Get("/boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	}})
	get(t, srv.URL+"/tenants/123")
	get(t, srv.URL+"/tenants/456")
	get(t, srv.URL+"/no/such/thing-789")
	get(t, srv.URL+"/boom")
	_, body := get(t, srv.URL+"/metrics")
	for _, want := range []string{
		`presencebridge_http_requests_total{code="200",method="GET",route="/tenants/{id}"} 2`,
		`presencebridge_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`presencebridge_http_requests_total{code="500",method="GET",route="/boom"} 1`,
		`presencebridge_http_request_duration_seconds_count{code="200",method="GET",route="/tenants/{id}"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, raw := range []string{"/tenants/123", "thing-789"} {
		if strings.Contains(body, raw) {
			t.Errorf("metrics carry the raw path %s: unbounded cardinality", raw)
		}
	}
}
