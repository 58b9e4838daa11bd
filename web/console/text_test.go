package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"presencebridge/internal/staff"
)

// storedRows counts the rows a console form could have written.
func (s *site) storedRows() int {
	s.t.Helper()
	var n int
	err := s.Store.Pool().QueryRow(s.t.Context(), `SELECT (SELECT count(*) FROM audit_log) + (SELECT count(*) FROM staff) +
		(SELECT count(*) FROM tenants) + (SELECT count(*) FROM invites) + (SELECT count(*) FROM tenants WHERE status = 'suspended')`).Scan(&n)
	if err != nil {
		s.t.Fatal(err)
	}
	return n
}

// Text the database cannot store — a NUL, bytes that are not UTF-8 — in a
// console form shows the form again with what is wrong and stores
// nothing; a sign-in with it is a wrong address; in a page's address it is
// 400. Before, the database refused it and the page was a 500.
func TestAConsoleFormHoldingANulOrBytesNotUTF8ShowsTheFormAgainAndStoresNothing(t *testing.T) {
	s, b := signedIn(t, "boss@vendor.example", staff.Admin)
	s.add("ops@vendor.example", staff.Support)
	support := "/console/tenants/" + s.Tenant.String() + "/support"
	for _, c := range []struct {
		name, page, path string
		form             url.Values
		status           int
		words            string
	}{
		{"an invitation's name", "/console/invitations/", "/console/invitations/", url.Values{"name": {"North\x00wind"}, "ttl": {"72h"}}, 422, "not text"},
		{"an invitation's name, not UTF-8", "/console/invitations/", "/console/invitations/", url.Values{"name": {"North\xffwind"}, "ttl": {"72h"}}, 422, "not text"},
		{"a staff account's name", "/console/staff", "/console/staff/add", url.Values{"email": {"new@vendor.example"}, "name": {"N\x00ew"}, "role": {"viewer"}}, 422, "not text"},
		{"a staff account's address", "/console/staff", "/console/staff/add", url.Values{"email": {"n\xffew@vendor.example"}, "role": {"viewer"}}, 422, "not an e-mail address"},
		{"a staff account to disable", "/console/staff", "/console/staff/disable", url.Values{"email": {"ops\x00@vendor.example"}}, 422, "not text"},
		{"a staff account's role", "/console/staff", "/console/staff/role", url.Values{"email": {"ops\xff@vendor.example"}, "role": {"viewer"}}, 422, "not text"},
		{"a suspension's reason", support + "/", support + "/suspend", url.Values{"reason": {"unpaid\x00"}}, 422, "not text"},
		{"a suspension's reason confirmed", support + "/", support + "/suspend", url.Values{"reason": {"unpaid\xff"}, "confirm": {"yes"}}, 422, "not text"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := s.storedRows()
			b.Get(c.page)
			p := b.Post(c.path, c.form)
			if p.Status != c.status || !strings.Contains(p.Text(), c.words) {
				t.Errorf("%d, want %d saying %q:\n%s", p.Status, c.status, c.words, p.Text())
			}
			if after := s.storedRows(); after != before {
				t.Errorf("%d rows stored", after-before)
			}
		})
	}
	for _, email := range []string{"boss\x00@vendor.example", "boss\xff@vendor.example"} {
		if p := s.signInWith(email, password); p.Status != http.StatusUnauthorized && p.Status != http.StatusOK {
			t.Errorf("sign in as %q: %d\n%s", email, p.Status, p.Text())
		}
	}
	for _, path := range []string{"/console/users?q=a%00", "/console/tenants/?q=%FF", "/console/audit?actor=%00"} {
		if p := b.Get(path); p.Status != http.StatusBadRequest || !strings.Contains(p.Text(), "not text") {
			t.Errorf("GET %s: %d\n%s", path, p.Status, p.Text())
		}
	}
}
