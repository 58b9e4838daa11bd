package api

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// described wraps the API's handler (mounted at /api/v1) so that every
// response a test sees is checked against the OpenAPI document the API
// serves: a route, status, header or field the document does not describe
// fails the test. Streams are checked up to their headers. Answers to paths
// outside the document must be problem+json 404 or 405.
func described(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/openapi.json", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/openapi+json" {
		t.Fatalf("GET /api/v1/openapi.json: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("the served OpenAPI document does not load: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("the served OpenAPI document is not valid: %v", err)
	}
	// The document's server is relative (/api/v1); the router wants a host.
	doc.Servers = openapi3.Servers{{URL: "http://api.test/api/v1"}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex // t's methods are safe, but failures read better whole
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		t.Errorf(format, args...)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probe := r.Clone(context.WithoutCancel(r.Context()))
		probe.URL.Scheme, probe.URL.Host, probe.Host = "http", "api.test", "api.test"
		route, params, ferr := router.FindRoute(probe)
		c := &checking{w: w, header: http.Header{}, check: func(status int, header http.Header, body []byte, streamed bool) {
			what := r.Method + " " + r.URL.Path
			if (strings.HasPrefix(r.URL.Path, "/api/v1/openapi") || r.URL.Path == "/api/v1/docs") && status == http.StatusOK {
				return // the description itself, and its rendering
			}
			if ferr != nil {
				if (status != http.StatusNotFound && status != http.StatusMethodNotAllowed) || header.Get("Content-Type") != "application/problem+json" {
					fail("%s is not in the API description (%v) yet answered %d %s", what, ferr, status, header.Get("Content-Type"))
				}
				return
			}
			in := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route},
				Status:                 status, Header: header,
				Options: &openapi3filter.Options{IncludeResponseStatus: true, ExcludeResponseBody: streamed, MultiError: true},
			}
			in.SetBodyBytes(body)
			if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
				fail("%s answered %d, which its description does not allow: %v\nbody: %s", what, status, err, body)
			}
		}}
		h.ServeHTTP(c, r)
		c.finish()
	})
}

var _ routers.Router = (*gorillamux.Router)(nil)

// checking holds a response back until it is checked, except a stream
// (text/event-stream), which is checked at its headers and then passed on
// as it is written.
type checking struct {
	w        http.ResponseWriter
	header   http.Header
	status   int
	body     bytes.Buffer
	streamed bool
	check    func(status int, header http.Header, body []byte, streamed bool)
}

func (c *checking) Header() http.Header { return c.header }

func (c *checking) WriteHeader(status int) {
	if c.status != 0 {
		return
	}
	c.status = status
	if strings.HasPrefix(c.header.Get("Content-Type"), "text/event-stream") {
		c.streamed = true
		c.check(status, c.header, nil, true)
		for k, v := range c.header {
			c.w.Header()[k] = v
		}
		c.w.WriteHeader(status)
	}
}

func (c *checking) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	if c.streamed {
		return c.w.Write(b)
	}
	return c.body.Write(b)
}

func (c *checking) Flush() {
	if c.streamed {
		http.NewResponseController(c.w).Flush()
	}
}

func (c *checking) finish() {
	if c.streamed {
		return
	}
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.check(c.status, c.header, c.body.Bytes(), false)
	for k, v := range c.header {
		c.w.Header()[k] = v
	}
	c.w.WriteHeader(c.status)
	io.Copy(c.w, &c.body)
}
