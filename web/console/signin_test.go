package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"presencebridge/internal/staff"
	"presencebridge/web/console"
)

const refused = "The e-mail address, password or code was not accepted."

func TestStaffSignInWithAPasswordLandsOnTheTenantsListAndSignsOut(t *testing.T) {
	s := newSite(t, console.Limits{})
	s.add("ops@vendor.example", staff.Support)
	b := s.browser()
	if p := b.Get("/console/"); p.Status != http.StatusOK || !strings.Contains(p.Text(), "Sign in with your staff account") {
		t.Fatalf("the console before signing in: %d\n%s", p.Status, p.Text())
	}
	b.signIn("ops@vendor.example")
	p := b.Get("/console/")
	if p.Status != http.StatusOK || !strings.Contains(p.Text(), "Contoso") || !strings.Contains(p.Text(), "ops@vendor.example (support)") {
		t.Fatalf("the tenants list: %d\n%s", p.Status, p.Text())
	}
	if p := b.Post("/console/signout", url.Values{}); p.Status != http.StatusOK || !strings.Contains(p.Text(), "You are signed out.") {
		t.Fatalf("sign out: %d\n%s", p.Status, p.Text())
	}
	if p := b.Get("/console/"); strings.Contains(p.Text(), "Contoso") {
		t.Error("the tenants list after signing out")
	}
	if s.audited("staff:ops@vendor.example", "staff.signed_in") != 1 || s.audited("staff:ops@vendor.example", "staff.signed_out") != 1 {
		t.Error("sign-in and sign-out not audited once each")
	}
}

// Session fixation: a session token planted in a browser before it signs
// in (here: the one its sign-in page set) must grant nothing after.
func TestSigningInRenewsTheSessionTokenSoOnePlantedBeforeGrantsNothing(t *testing.T) {
	s := newSite(t, console.Limits{})
	s.add("ops@vendor.example", staff.Support)
	b := s.browser()
	b.Get("/console/signin")
	planted := b.cookie()
	if planted == "" {
		t.Fatal("the sign-in page set no session cookie")
	}
	b.signIn("ops@vendor.example")
	if b.cookie() == planted || b.cookie() == "" {
		t.Fatalf("the session token did not change at sign-in (%q)", planted)
	}
	attacker := s.browser()
	p := attacker.Do(http.MethodGet, "/console/", nil, "Cookie", console.SessionCookie+"="+planted)
	if strings.Contains(p.Text(), "Contoso") || !strings.Contains(p.Text(), "Sign in with your staff account") {
		t.Fatalf("the planted token after the victim signed in: %d\n%s", p.Status, p.Text())
	}
}

func TestAFormWithoutItsTokenOrFromAnotherSiteIsRefusedAndChangesNothing(t *testing.T) {
	s := newSite(t, console.Limits{})
	s.add("ops@vendor.example", staff.Support)
	b := s.browser()
	b.signIn("ops@vendor.example")
	b.Get("/console/tenants/" + s.Tenant.String() + "/users/")
	add := "/console/tenants/" + s.Tenant.String() + "/users/add"
	for name, try := range map[string]func() page{
		"no token":    func() page { return b.Post(add, url.Values{"users": {"a@contoso.example"}, "csrf": {""}}) },
		"wrong token": func() page { return b.Post(add, url.Values{"users": {"a@contoso.example"}, "csrf": {"forged"}}) },
		"another site": func() page {
			return b.Post(add, url.Values{"users": {"a@contoso.example"}}, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
		},
		"sign-in without token": func() page {
			return s.browser().Post("/console/signin", url.Values{"email": {"ops@vendor.example"}, "password": {password}, "csrf": {""}})
		},
	} {
		if p := try(); p.Status != http.StatusForbidden || !strings.Contains(p.Text(), "expired or was sent from another site") {
			t.Errorf("%s: %d\n%s", name, p.Status, p.Text())
		}
	}
	var n int
	if err := s.Store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM directory_users`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d users on the roster (%v), want none", n, err)
	}
}

// Whatever was wrong, the answer is the same page: it tells nobody which
// addresses have accounts, or that one is locked.
func TestALockedAccountIsRefusedEvenWithItsPasswordInTheWordsOfAnyRefusal(t *testing.T) {
	s := newSite(t, console.Limits{})
	s.add("ops@vendor.example", staff.Support)
	b := s.browser()
	b.Get("/console/signin")
	answer := func(email, pw string) string {
		t.Helper()
		p := b.Post("/console/signin", url.Values{"email": {email}, "password": {pw}})
		if p.Status != http.StatusUnauthorized || !strings.Contains(p.Text(), refused) {
			t.Fatalf("%s: %d\n%s", email, p.Status, p.Text())
		}
		return strings.ReplaceAll(p.Body, b.CSRF, "") // the page less its token
	}
	unknown := answer("nobody@vendor.example", password)
	for range staff.MaxFailures {
		wrong := answer("ops@vendor.example", "not the password")
		if strings.ReplaceAll(wrong, "ops@vendor.example", "nobody@vendor.example") != unknown {
			t.Fatal("a wrong password's page differs from an unknown address's")
		}
	}
	locked := answer("ops@vendor.example", password)
	if strings.ReplaceAll(locked, "ops@vendor.example", "nobody@vendor.example") != unknown {
		t.Error("a locked account's page differs from an unknown address's")
	}
	if s.audited("staff:ops@vendor.example", "staff.locked") != 1 {
		t.Error("the lock is not audited")
	}
}

func TestSignInAttemptsAreLimitedPerAccountAndPerAddress(t *testing.T) {
	t.Run("per account", func(t *testing.T) {
		s := newSite(t, console.Limits{PerAccount: 3, PerIP: 100})
		b := s.browser()
		b.Get("/console/signin")
		for i := range 4 {
			p := b.Post("/console/signin", url.Values{"email": {"someone@vendor.example"}, "password": {"guess"}})
			want := http.StatusUnauthorized
			if i == 3 {
				want = http.StatusTooManyRequests
			}
			if p.Status != want {
				t.Fatalf("attempt %d: %d, want %d\n%s", i+1, p.Status, want, p.Text())
			}
		}
		if p := b.Post("/console/signin", url.Values{"email": {"other@vendor.example"}, "password": {"guess"}}); p.Status != http.StatusUnauthorized {
			t.Errorf("another account from the same address: %d, want 401", p.Status)
		}
	})
	t.Run("per address", func(t *testing.T) {
		s := newSite(t, console.Limits{PerAccount: 100, PerIP: 3})
		b := s.browser()
		b.Get("/console/signin")
		for i, email := range []string{"a@vendor.example", "b@vendor.example", "c@vendor.example", "d@vendor.example"} {
			p := b.Post("/console/signin", url.Values{"email": {email}, "password": {"guess"}})
			want := http.StatusUnauthorized
			if i == 3 {
				want = http.StatusTooManyRequests
			}
			if p.Status != want || want == http.StatusTooManyRequests && !strings.Contains(p.Text(), "Too many sign-in attempts") {
				t.Fatalf("attempt %d: %d, want %d\n%s", i+1, p.Status, want, p.Text())
			}
		}
	})
}

func TestATOTPAccountEnrollsOnItsAccountPageThenSignsInWithACode(t *testing.T) {
	now := time.Now() // the staff service's clock, which the codes follow
	s := newSite(t, console.Limits{}, staff.Options{Now: func() time.Time { return now }})
	s.add("ops@vendor.example", staff.Admin)
	b := s.browser()
	b.signIn("ops@vendor.example")
	b.Get("/console/account")
	if p := b.Post("/console/account/totp/new", url.Values{}); p.Status != http.StatusSeeOther {
		t.Fatalf("start enrollment: %d\n%s", p.Status, p.Text())
	}
	p := b.Get("/console/account")
	secret := between(p.Body, `id="totp-secret">`, "<")
	if len(secret) != 32 || !strings.Contains(unescapeAmp(p.Body), "otpauth://totp/Presence%20Bridge:ops@vendor.example?") {
		t.Fatalf("the enrollment page shows no secret and otpauth URL:\n%s", p.Body)
	}
	code := func() string {
		c, err := totp.GenerateCode(secret, now)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if p := b.Post("/console/account/totp", url.Values{"code": {"000000"}}); p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a wrong code at enrollment: %d", p.Status)
	}
	if p := b.Post("/console/account/totp", url.Values{"code": {code()}}); p.Status != http.StatusOK || !strings.Contains(p.Text(), "authenticator app is set up") {
		t.Fatalf("enroll: %d\n%s", p.Status, p.Text())
	}
	if s.audited("staff:ops@vendor.example", "staff.totp_enrolled") != 1 {
		t.Error("the enrollment is not audited")
	}

	// The next sign-in asks for a code, and only a right one (not the one
	// that enrolled, used already) lets the account in.
	c := s.browser()
	c.Get("/console/signin")
	if p := c.Post("/console/signin", url.Values{"email": {"ops@vendor.example"}, "password": {password}}); p.Status != http.StatusSeeOther || p.Location != "/console/signin/code" {
		t.Fatalf("password of a TOTP account: %d %s", p.Status, p.Location)
	}
	if p := c.Get("/console/"); strings.Contains(p.Text(), "Contoso") {
		t.Fatal("signed in before the code")
	}
	c.Get("/console/signin/code")
	if p := c.Post("/console/signin/code", url.Values{"code": {code()}}); p.Status != http.StatusUnauthorized || !strings.Contains(p.Text(), refused) {
		t.Fatalf("the code used to enroll, used again: %d\n%s", p.Status, p.Text())
	}
	now = now.Add(30 * time.Second)
	if p := c.Post("/console/signin/code", url.Values{"code": {code()}}); p.Status != http.StatusSeeOther || p.Location != "/console/" {
		t.Fatalf("a fresh code: %d %s\n%s", p.Status, p.Location, p.Text())
	}
}

func TestADisabledAccountIsSignedOutAtItsNextRequest(t *testing.T) {
	s := newSite(t, console.Limits{})
	s.add("ops@vendor.example", staff.Support)
	b := s.browser()
	b.signIn("ops@vendor.example")
	if _, err := s.Staff.Disable(t.Context(), "ops@vendor.example", "staff:boss@vendor.example"); err != nil {
		t.Fatal(err)
	}
	if p := b.Get("/console/"); p.Status != http.StatusForbidden || !strings.Contains(p.Text(), "disabled, so you are signed out") {
		t.Fatalf("after disable: %d\n%s", p.Status, p.Text())
	}
}

func TestConsoleSessionsAreTheirOwnWithShorterTimeouts(t *testing.T) {
	for _, production := range []bool{false, true} {
		ss := console.NewSessions(nil, nil, production, nil)
		want := "pb_console"
		if production {
			want = "__Host-pb_console"
		}
		if ss.Cookie.Name != want || ss.Cookie.Secure != production || !ss.Cookie.HttpOnly || ss.Cookie.Persist {
			t.Errorf("production %v: cookie %+v", production, ss.Cookie)
		}
		if ss.IdleTimeout != 30*time.Minute || ss.Lifetime != 8*time.Hour {
			t.Errorf("idle %v, lifetime %v", ss.IdleTimeout, ss.Lifetime)
		}
	}
}

// between is the text of s after start up to end.
func between(s, start, end string) string {
	_, rest, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, end)
	return v
}

func unescapeAmp(s string) string { return strings.ReplaceAll(s, "&amp;", "&") }
