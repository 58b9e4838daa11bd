package web

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"presencebridge/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// sessionCookie serves a handler that writes to the session and returns
// the cookie it sets.
func sessionCookie(t *testing.T, production bool) *http.Cookie {
	t.Helper()
	s := NewSessions(testkit.DB(t), SessionOptions{Production: production})
	h := s.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Put(r.Context(), "k", "v")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies set: %v", rec.Result().Header.Values("Set-Cookie"))
	}
	return cookies[0]
}

func TestProductionSessionCookieIsHostPrefixedAndSecure(t *testing.T) {
	c := sessionCookie(t, true)
	if c.Name != "__Host-pb_session" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
		t.Fatalf("production cookie = %+v", c)
	}
	if c.MaxAge != 0 || !c.Expires.IsZero() {
		t.Errorf("the cookie outlives the browser session: %+v", c)
	}
}

// Browsers refuse Secure and __Host- cookies over http://127.0.0.1, so
// development uses a plain name without Secure.
func TestDevelopmentSessionCookieWorksOverPlainHTTP(t *testing.T) {
	c := sessionCookie(t, false)
	if c.Name != "pb_session" || c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Fatalf("development cookie = %+v", c)
	}
}

func TestSessionTimeouts(t *testing.T) {
	s := NewSessions(testkit.DB(t), SessionOptions{})
	if s.IdleTimeout != SessionIdleTimeout || s.Lifetime != SessionLifetime ||
		SessionIdleTimeout.Hours() != 2 || SessionLifetime.Hours() != 12 {
		t.Fatalf("idle %v, lifetime %v", s.IdleTimeout, s.Lifetime)
	}
}
