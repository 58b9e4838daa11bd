package testkit

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Forms is a browser without a screen for tests of form-based pages: one
// cookie jar, redirects not followed (a test reads where they lead), and
// the CSRF token of the last page read, which Post sends back.
type Forms struct {
	t    testing.TB
	base string
	c    *http.Client
	// CSRF is the form token ("csrf" field) of the last page read.
	CSRF string
}

// Page is an answer.
type Page struct {
	Status   int
	Location string
	Body     string
}

var (
	csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	tagRE  = regexp.MustCompile(`<[^>]+>`)
)

// Text is the page's text without tags, entities decoded.
func (p Page) Text() string { return html.UnescapeString(tagRE.ReplaceAllString(p.Body, "")) }

// NewForms returns a browser with no cookies for the site at base.
func NewForms(t testing.TB, base string) *Forms {
	jar, _ := cookiejar.New(nil)
	return &Forms{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Do sends a request to path (under the base) with header name/value
// pairs.
func (f *Forms) Do(method, path string, body io.Reader, header ...string) Page {
	f.t.Helper()
	req, err := http.NewRequest(method, f.base+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := f.c.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	p := Page{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: string(raw)}
	if m := csrfRE.FindStringSubmatch(p.Body); m != nil {
		f.CSRF = html.UnescapeString(m[1])
	}
	return p
}

// Get reads path.
func (f *Forms) Get(path string) Page { f.t.Helper(); return f.Do(http.MethodGet, path, nil) }

// Post sends form to path with the last page's CSRF token unless form
// has one, and header name/value pairs.
func (f *Forms) Post(path string, form url.Values, header ...string) Page {
	f.t.Helper()
	if !form.Has("csrf") {
		form.Set("csrf", f.CSRF)
	}
	return f.Do(http.MethodPost, path, strings.NewReader(form.Encode()),
		append([]string{"Content-Type", "application/x-www-form-urlencoded"}, header...)...)
}

// Cookie is the value of the cookie name the site set ("" without one).
func (f *Forms) Cookie(name string) string {
	u, _ := url.Parse(f.base)
	for _, c := range f.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
