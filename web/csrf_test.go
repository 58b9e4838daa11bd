package web

import (
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"presencebridge/internal/testkit"
)

func TestCSRFNeedsTheSessionTokenAndTheSameOrigin(t *testing.T) {
	s := NewSessions(testkit.DB(t), SessionOptions{})
	c := NewCSRF(s, nil)
	var changes atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(c.Token(r.Context()))) })
	mux.HandleFunc("POST /form", func(w http.ResponseWriter, r *http.Request) { changes.Add(1) })
	srv := httptest.NewServer(s.LoadAndSave(c.Protect(mux)))
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}

	resp, err := client.Get(srv.URL + "/form")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	token := string(body)
	if len(token) < 26 { // crypto/rand.Text: 128 bits or more
		t.Fatalf("token %q is too short", token)
	}

	post := func(token string, header ...string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/form", strings.NewReader(url.Values{CSRFField: {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for name, status := range map[string]int{
		"missing":      post(""),
		"wrong":        post(token[:len(token)-1] + "x"),
		"cross-site":   post(token, "Sec-Fetch-Site", "cross-site"),
		"other origin": post(token, "Origin", "https://attacker.example"),
	} {
		if status != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", name, status)
		}
	}
	if changes.Load() != 0 {
		t.Fatalf("a refused request reached the handler")
	}
	if status := post(token, "Sec-Fetch-Site", "same-origin"); status != http.StatusOK || changes.Load() != 1 {
		t.Fatalf("the session's token from the same origin: status %d", status)
	}
	// Another browser (no session) cannot use this session's token.
	other := &http.Client{}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/form", strings.NewReader(url.Values{CSRFField: {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = other.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || changes.Load() != 1 {
		t.Fatalf("a token without its session: status %d", resp.StatusCode)
	}
}

func TestAFormOverTheBodyLimitIsRefusedAsTooLargeNamingTheLimitAndReachesNoHandler(t *testing.T) {
	s := NewSessions(testkit.DB(t), SessionOptions{})
	c := NewCSRF(s, nil)
	var changes atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(c.Token(r.Context()))) })
	mux.HandleFunc("POST /form", func(w http.ResponseWriter, r *http.Request) { changes.Add(1) })
	limited := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			next.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(limited(s.LoadAndSave(c.Protect(mux))))
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.Get(srv.URL + "/form")
	if err != nil {
		t.Fatal(err)
	}
	token, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	// post sends a form with a file of n bytes (multipart), or a field of
	// n bytes (urlencoded).
	post := func(n int, encoding string) (int, string) {
		t.Helper()
		var body strings.Builder
		contentType := "application/x-www-form-urlencoded"
		if encoding == "multipart" {
			w := multipart.NewWriter(&body)
			w.WriteField(CSRFField, string(token))
			f, _ := w.CreateFormFile("csv", "roster.csv")
			f.Write([]byte(strings.Repeat("x", n)))
			w.Close()
			contentType = w.FormDataContentType()
		} else {
			body.WriteString(url.Values{CSRFField: {string(token)}, "users": {strings.Repeat("x", n)}}.Encode())
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/form", strings.NewReader(body.String()))
		req.Header.Set("Content-Type", contentType)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, encoding := range []string{"multipart", "urlencoded"} {
		status, page := post(80<<10, encoding)
		if status != http.StatusRequestEntityTooLarge || !strings.Contains(page, "This page takes forms of at most 64 KB, so nothing was changed.") ||
			strings.Contains(page, "expired") {
			t.Errorf("a %s form over the limit: %d\n%s", encoding, status, page)
		}
	}
	if changes.Load() != 0 {
		t.Error("a form over the limit reached the handler")
	}
	for i, encoding := range []string{"multipart", "urlencoded"} {
		if status, _ := post(1<<10, encoding); status != http.StatusOK || changes.Load() != int32(i+1) {
			t.Errorf("a %s form within the limit: %d", encoding, status)
		}
	}
}
