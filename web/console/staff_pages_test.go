package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"presencebridge/internal/staff"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
	"presencebridge/web/console"
)

// staffRow is the account's row of the Staff page, its text in one line.
func staffRow(t *testing.T, p page, email string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<li class="admin staff-member" data-email="` + regexp.QuoteMeta(email) + `">.*?</li>`).FindString(p.Body)
	if m == "" {
		t.Fatalf("no row of %s on the Staff page (%d):\n%s", email, p.Status, p.Text())
	}
	return strings.Join(strings.Fields(testkit.Page{Body: m}.Text()), " ")
}

// shownPassword is the password the page shows once, or "".
func shownPassword(p page) string {
	m := regexp.MustCompile(`id="staff-password" class="copy-value" value="([^"]+)"`).FindStringSubmatch(p.Body)
	if m == nil {
		return ""
	}
	return m[1]
}

// signInWith signs email in with pw in a new browser and returns the
// answer to the password.
func (s *site) signInWith(email, pw string) page {
	b := s.browser()
	b.Get("/console/signin")
	return b.Post("/console/signin", url.Values{"email": {email}, "password": {pw}})
}

func TestAnAdminAddsAStaffAccountWhosePasswordIsMadeAndShownOnceOrChosen(t *testing.T) {
	s := newSite(t, console.Limits{})
	s.add("boss@vendor.example", staff.Admin)
	b := s.browser()
	b.signIn("boss@vendor.example")
	p := b.Get("/console/staff")
	if p.Status != http.StatusOK || !strings.Contains(staffRow(t, p, "boss@vendor.example"), "boss@vendor.example admin you") {
		t.Fatalf("the Staff page: %d\n%s", p.Status, p.Text())
	}

	p = b.Post("/console/staff/add", url.Values{"email": {"ops@vendor.example"}, "name": {"Ops"}, "role": {"support"}})
	if p.Status != http.StatusSeeOther || p.Location != "/console/staff" {
		t.Fatalf("add: %d %s\n%s", p.Status, p.Location, p.Text())
	}
	sessions := storetest.TableText(t, s.Store.Pool(), "sessions")
	p = b.Get("/console/staff")
	made := shownPassword(p)
	if len(made) != 26 || !strings.Contains(p.Text(), "ops@vendor.example may sign in now, as support.") ||
		!strings.Contains(staffRow(t, p, "ops@vendor.example"), "support Ops · active") {
		t.Fatalf("after adding: password %q\n%s", made, p.Text())
	}
	storetest.RequireNotIn(t, "the sessions table after the POST", sessions, made)
	if again := b.Get("/console/staff"); shownPassword(again) != "" {
		t.Error("the password is shown a second time")
	}
	if p := s.signInWith("ops@vendor.example", made); p.Status != http.StatusSeeOther {
		t.Errorf("signing in with the password made: %d\n%s", p.Status, p.Text())
	}

	p = b.Post("/console/staff/add", url.Values{"email": {"look@vendor.example"}, "role": {"viewer"}, "password": {"a password of my own choosing"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("add with a password: %d\n%s", p.Status, p.Text())
	}
	if p = b.Get("/console/staff"); shownPassword(p) != "" || !strings.Contains(staffRow(t, p, "look@vendor.example"), "viewer") {
		t.Errorf("after adding with a password:\n%s", p.Text())
	}
	if p := s.signInWith("look@vendor.example", "a password of my own choosing"); p.Status != http.StatusSeeOther {
		t.Errorf("signing in with the password chosen: %d", p.Status)
	}
	for _, c := range []struct {
		form url.Values
		says string
	}{
		{url.Values{"email": {"look@vendor.example"}, "role": {"viewer"}}, "there is already a staff account for look@vendor.example"},
		{url.Values{"email": {"new@vendor.example"}, "role": {"viewer"}, "password": {"short"}}, "at least 12 characters"},
		{url.Values{"email": {"new@vendor.example"}, "role": {"root"}}, `unknown role "root"`},
		{url.Values{"email": {"not an address"}, "role": {"viewer"}}, "is not an e-mail address"},
	} {
		p := b.Post("/console/staff/add", c.form)
		if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Text(), c.says) ||
			!strings.Contains(p.Body, `value="`+c.form.Get("email")+`"`) {
			t.Errorf("adding %v: %d, want 422 saying %q with the address kept\n%s", c.form, p.Status, c.says, p.Text())
		}
	}
	if n := s.audited("staff:boss@vendor.example", "staff.added"); n != 2 {
		t.Errorf("%d staff.added entries by the admin, want 2", n)
	}
}

func TestAnAdminChangesAStaffAccountsRoleStateLockAppAndPasswordEachAudited(t *testing.T) {
	now := time.Now()
	s := newSite(t, console.Limits{}, staff.Options{Now: func() time.Time { return now }})
	s.add("boss@vendor.example", staff.Admin)
	ops := s.add("ops@vendor.example", staff.Support)
	b := s.browser()
	b.signIn("boss@vendor.example")
	opsBrowser := s.browser()
	opsBrowser.signIn("ops@vendor.example")
	change := func(action string, form url.Values, says, row string) page {
		t.Helper()
		form.Set("email", "ops@vendor.example")
		b.Get("/console/staff")
		if p := b.Post("/console/staff/"+action, form); p.Status != http.StatusSeeOther || p.Location != "/console/staff" {
			t.Fatalf("%s: %d %s\n%s", action, p.Status, p.Location, p.Text())
		}
		p := b.Get("/console/staff")
		if !strings.Contains(p.Text(), says) || !strings.Contains(staffRow(t, p, "ops@vendor.example"), row) {
			t.Errorf("after %s, want %q and a row saying %q:\n%s", action, says, row, staffRow(t, p, "ops@vendor.example"))
		}
		return p
	}

	change("role", url.Values{"role": {"viewer"}}, "ops@vendor.example is viewer now.", "ops@vendor.example viewer")
	if p := opsBrowser.Get("/console/account"); !strings.Contains(p.Body, `id="role">viewer<`) {
		t.Errorf("the role does not apply at ops's next request:\n%s", p.Text())
	}
	change("disable", url.Values{}, "ops@vendor.example is disabled.", "disabled")
	if p := opsBrowser.Get("/console/"); p.Status != http.StatusForbidden || !strings.Contains(p.Text(), "disabled") {
		t.Errorf("ops's session after the disabling: %d\n%s", p.Status, p.Text())
	}
	change("enable", url.Values{}, "ops@vendor.example may sign in again.", "active")

	for range staff.MaxFailures {
		s.signInWith("ops@vendor.example", "not the password at all")
	}
	if p := b.Get("/console/staff"); !strings.Contains(staffRow(t, p, "ops@vendor.example"), "locked until") || !strings.Contains(p.Body, `class="secondary unlock"`) {
		t.Errorf("a locked account's row:\n%s", staffRow(t, p, "ops@vendor.example"))
	}
	change("unlock", url.Values{}, "ops@vendor.example is unlocked.", "active")
	if p := s.signInWith("ops@vendor.example", password); p.Status != http.StatusSeeOther {
		t.Errorf("signing in once unlocked: %d", p.Status)
	}

	e, _ := staff.NewEnrollment(ops.Email)
	code, _ := totp.GenerateCode(e.Secret, now)
	if err := s.Staff.Enroll(t.Context(), ops.ID, e.Secret, code); err != nil {
		t.Fatal(err)
	}
	change("reset-totp", url.Values{}, "ops@vendor.example signs in with its password alone now.", "active, last signed in")
	if p := s.signInWith("ops@vendor.example", password); p.Status != http.StatusSeeOther || p.Location != "/console/" {
		t.Errorf("signing in after the reset: %d to %s, want no code asked", p.Status, p.Location)
	}

	p := change("password", url.Values{}, "ops@vendor.example has a new password.", "active")
	made := shownPassword(p)
	if len(made) != 26 {
		t.Fatalf("no new password shown:\n%s", p.Text())
	}
	if p := s.signInWith("ops@vendor.example", password); p.Status != http.StatusUnauthorized {
		t.Errorf("the old password: %d, want 401", p.Status)
	}
	if p := s.signInWith("ops@vendor.example", made); p.Status != http.StatusSeeOther {
		t.Errorf("the new password: %d", p.Status)
	}

	for _, action := range []string{"staff.role_changed", "staff.disabled", "staff.enabled", "staff.unlocked", "staff.totp_reset", "staff.password_set"} {
		if n := s.audited("staff:boss@vendor.example", action); n != 1 {
			t.Errorf("%d %s entries by the admin, want 1", n, action)
		}
	}
	if p := b.Post("/console/staff/promote", url.Values{"email": {"ops@vendor.example"}}); p.Status != http.StatusNotFound {
		t.Errorf("an unknown change: %d, want 404", p.Status)
	}
}

func TestTheLastAdminIsNeitherDemotedNorDisabledOnTheStaffPage(t *testing.T) {
	s := newSite(t, console.Limits{})
	s.add("boss@vendor.example", staff.Admin)
	b := s.browser()
	b.signIn("boss@vendor.example")
	b.Get("/console/staff")
	for _, c := range []struct {
		action string
		form   url.Values
		says   string
	}{
		{"role", url.Values{"role": {"support"}}, "boss@vendor.example is the only admin left, so it cannot be made support: make another account admin first, then try again."},
		{"disable", url.Values{}, "boss@vendor.example is the only admin left, so it cannot be disabled"},
	} {
		c.form.Set("email", "boss@vendor.example")
		p := b.Post("/console/staff/"+c.action, c.form)
		if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Text(), "Nothing was changed: "+c.says) {
			t.Errorf("%s the last admin: %d\n%s", c.action, p.Status, p.Text())
		}
	}
	if p := b.Get("/console/staff"); !strings.Contains(staffRow(t, p, "boss@vendor.example"), "admin you active") {
		t.Errorf("the last admin after the refusals: %s", staffRow(t, p, "boss@vendor.example"))
	}
}

// Support and viewers see no Staff page in the navigation, get 403 there,
// and their forged changes (with their own session's form token) are
// refused before anything changes.
func TestSupportAndViewersMayNeitherSeeNorChangeStaffAccounts(t *testing.T) {
	s := newSite(t, console.Limits{})
	s.add("boss@vendor.example", staff.Admin)
	s.add("help@vendor.example", staff.Support)
	s.add("look@vendor.example", staff.Viewer)
	for _, who := range []string{"help@vendor.example", "look@vendor.example"} {
		b := s.browser()
		b.signIn(who)
		if p := b.Get("/console/"); strings.Contains(p.Body, `id="nav-staff"`) {
			t.Errorf("%s is offered the Staff page", who)
		}
		if p := b.Get("/console/staff"); p.Status != http.StatusForbidden {
			t.Errorf("%s reads the Staff page: %d, want 403", who, p.Status)
		}
		b.Get("/console/account") // a form token of their own
		for _, c := range []struct {
			path string
			form url.Values
		}{
			{"/console/staff/add", url.Values{"email": {"mole@vendor.example"}, "role": {"admin"}}},
			{"/console/staff/role", url.Values{"email": {who}, "role": {"admin"}}},
			{"/console/staff/disable", url.Values{"email": {"boss@vendor.example"}}},
			{"/console/staff/password", url.Values{"email": {"boss@vendor.example"}}},
		} {
			if p := b.Post(c.path, c.form); p.Status != http.StatusForbidden {
				t.Errorf("%s posts %s: %d, want 403", who, c.path, p.Status)
			}
		}
	}
	if p := s.signInWith("boss@vendor.example", password); p.Status != http.StatusSeeOther {
		t.Errorf("the admin's password after the forged posts: %d", p.Status)
	}
	var n int
	if err := s.Store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM staff WHERE email = 'mole@vendor.example' OR role = 'admin' AND email <> 'boss@vendor.example'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d accounts added or promoted by forged posts (%v)", n, err)
	}
	if n := s.audited("staff:help@vendor.example", "staff.added") + s.audited("staff:look@vendor.example", "staff.role_changed"); n != 0 {
		t.Errorf("%d changes audited for support and viewer", n)
	}
}

// A change to staff accounts needs a sign-in of the last few minutes, as
// it may hand out a password or a role: an older one is sent to sign in
// again, and nothing changes.
func TestStaffChangesNeedARecentSignIn(t *testing.T) {
	now := time.Now()
	s := newSiteWith(t, console.Limits{}, func(d *console.Deps, _ string) { d.Now = func() time.Time { return now } })
	s.add("boss@vendor.example", staff.Admin)
	b := s.browser()
	b.signIn("boss@vendor.example")
	b.Get("/console/staff")
	now = now.Add(console.FreshFor + time.Minute)
	for _, path := range []string{"/console/staff/add", "/console/staff/password"} {
		p := b.Post(path, url.Values{"email": {"new@vendor.example"}, "role": {"admin"}}, "Referer", s.URL+"/console/staff")
		if p.Status != http.StatusSeeOther || p.Location != "/console/signin?fresh=1&return=%2Fconsole%2Fstaff" {
			t.Errorf("%s with a sign-in of %v ago: %d to %q, want to sign in again", path, console.FreshFor+time.Minute, p.Status, p.Location)
		}
	}
	if n := s.audited("staff:boss@vendor.example", "staff.added"); n != 0 {
		t.Errorf("%d accounts added with a stale sign-in", n)
	}
}
