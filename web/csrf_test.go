package web

import (
	"io"
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
