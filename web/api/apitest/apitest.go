// Package apitest checks what the tenant API answers against the OpenAPI
// document it serves, for the tests of the API and of the product that
// call it: a route, status, header or field the document does not
// describe fails the test.
package apitest

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

// checker validates answers against one OpenAPI document.
type checker struct {
	t      testing.TB
	router routers.Router
	mu     sync.Mutex
}

// newChecker loads the document the API serves (its bytes).
func newChecker(t testing.TB, spec []byte) *checker {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(spec)
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
	return &checker{t: t, router: router}
}

func (c *checker) fail(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t.Errorf(format, args...)
}

// check validates one answer to r. Answers to paths outside the document
// must be problem+json 404 or 405; the document and its rendering are not
// described by themselves; a stream is checked up to its headers.
func (c *checker) check(r *http.Request, status int, header http.Header, body []byte, streamed bool) {
	what := r.Method + " " + r.URL.Path
	if (strings.HasPrefix(r.URL.Path, "/api/v1/openapi") || r.URL.Path == "/api/v1/docs") && status == http.StatusOK {
		return
	}
	probe := r.Clone(context.WithoutCancel(r.Context()))
	probe.URL.Scheme, probe.URL.Host, probe.Host = "http", "api.test", "api.test"
	route, params, err := c.router.FindRoute(probe)
	if err != nil {
		if (status != http.StatusNotFound && status != http.StatusMethodNotAllowed) || header.Get("Content-Type") != "application/problem+json" {
			c.fail("%s is not in the API description (%v) yet answered %d %s", what, err, status, header.Get("Content-Type"))
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
		c.fail("%s answered %d, which its description does not allow: %v\nbody: %s", what, status, err, body)
	}
}

// Described wraps h, the API's handler mounted at /api/v1, so that every
// answer is checked before it goes out.
func Described(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/openapi.json", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/openapi+json" {
		t.Fatalf("GET /api/v1/openapi.json: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	c := newChecker(t, rec.Body.Bytes())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hold := &checking{w: w, header: http.Header{}, check: func(status int, header http.Header, body []byte, streamed bool) {
			c.check(r, status, header, body, streamed)
		}}
		h.ServeHTTP(hold, r)
		hold.finish()
	})
}

// Client is an HTTP client for a running product at base whose every
// answer from /api/v1 is checked against the document it serves.
func Client(t testing.TB, base string) *http.Client {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/api/v1/openapi.json: %d %v", base, resp.StatusCode, err)
	}
	return &http.Client{Transport: &checkingTransport{c: newChecker(t, spec), next: http.DefaultTransport}}
}

type checkingTransport struct {
	c    *checker
	next http.RoundTripper
}

func (ct *checkingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := ct.next.RoundTrip(r)
	if err != nil || !strings.HasPrefix(r.URL.Path, "/api/v1/") {
		return resp, err
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		ct.c.check(r, resp.StatusCode, resp.Header, nil, true)
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	ct.c.check(r, resp.StatusCode, resp.Header, body, false)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

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
