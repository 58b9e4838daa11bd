package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"presencebridge/internal/staff"
	"presencebridge/internal/store"
	"presencebridge/internal/tenancy"
	"presencebridge/internal/testkit"
	"presencebridge/web/console"
)

// signedIn is a site with one account, email of role, signed in.
func signedIn(t *testing.T, email string, role staff.Role) (*site, *browser) {
	t.Helper()
	s := newSite(t, console.Limits{})
	s.add(email, role)
	b := s.browser()
	b.signIn(email)
	return s, b
}

// status reads the tenant's lifecycle status.
func (s *site) status() string {
	s.t.Helper()
	l, err := s.Store.GetTenantLifecycle(s.t.Context(), s.Tenant)
	if err != nil {
		s.t.Fatal(err)
	}
	return l.Status
}

// Suspending asks first, saying what follows, and changes nothing until
// confirmed; then the tenant is suspended with the reason, audited as the
// staff member with the tenant, and Resume gives it back its status.
func TestSupportSuspendsATenantAfterConfirmingAndResumesIt(t *testing.T) {
	s, b := signedIn(t, "help@vendor.example", staff.Support)
	base := "/console/tenants/" + s.Tenant.String() + "/support"
	p := b.Get(base + "/")
	for _, id := range []string{`id="suspend"`, `id="delete"`, `id="password-toggle"`} {
		if !strings.Contains(p.Body, id) {
			t.Errorf("the Support page offers support no %s", id)
		}
	}
	p = b.Post(base+"/suspend", url.Values{"reason": {"  "}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Text(), "Say why") {
		t.Errorf("a suspension without a reason: %d\n%s", p.Status, p.Text())
	}
	p = b.Post(base+"/suspend", url.Values{"reason": {"unpaid invoice 4711"}})
	if p.Status != http.StatusOK || !strings.Contains(p.Text(), "Suspend Contoso?") || !strings.Contains(p.Body, `value="unpaid invoice 4711"`) {
		t.Fatalf("the confirmation: %d\n%s", p.Status, p.Text())
	}
	if got := s.status(); got != store.TenantOnboarding {
		t.Fatalf("the tenant is %s before the confirmation", got)
	}
	p = b.Post(base+"/suspend", url.Values{"reason": {"unpaid invoice 4711"}, "confirm": {"yes"}})
	if p.Status != http.StatusSeeOther || p.Location != base+"/?done=suspend" {
		t.Fatalf("confirmed: %d %s\n%s", p.Status, p.Location, p.Text())
	}
	if got := s.status(); got != store.TenantSuspended {
		t.Fatalf("the tenant is %s after the confirmation", got)
	}
	p = b.Get(p.Location)
	for _, want := range []string{"The tenant is suspended.", "unpaid invoice 4711", "by staff:help@vendor.example"} {
		if !strings.Contains(p.Text(), want) {
			t.Errorf("the page after suspending does not say %q:\n%s", want, p.Text())
		}
	}
	var reason string
	if err := s.Store.Pool().QueryRow(t.Context(), `SELECT detail->>'reason' FROM audit_log WHERE tenant_id = $1 AND action = 'tenant.suspended'
		AND actor = 'staff:help@vendor.example'`, s.Tenant).Scan(&reason); err != nil || reason != "unpaid invoice 4711" {
		t.Errorf("the suspension's audit entry: %q, %v", reason, err)
	}
	if p := b.Post(base+"/resume", url.Values{"confirm": {"yes"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("resume: %d\n%s", p.Status, p.Text())
	}
	if got := s.status(); got != store.TenantOnboarding {
		t.Errorf("resumed, the tenant is %s, want onboarding again", got)
	}
	if n := s.audited("staff:help@vendor.example", "tenant.resumed"); n != 1 {
		t.Errorf("%d resumptions audited", n)
	}
}

// Deleting shows the date the data goes, on the confirmation and after.
func TestDeletingATenantShowsWhenItsDataIsRemoved(t *testing.T) {
	s, b := signedIn(t, "help@vendor.example", staff.Support)
	base := "/console/tenants/" + s.Tenant.String() + "/support"
	purge := time.Now().Add(tenancy.DefaultGrace).UTC().Format("2 January 2006")
	b.Get(base + "/")
	p := b.Post(base+"/delete", url.Values{"reason": {"the customer asked to be forgotten"}})
	if !strings.Contains(p.Text(), "Delete Contoso?") || !strings.Contains(p.Text(), "Its data is removed on "+purge) {
		t.Fatalf("the confirmation does not say the purge date %s:\n%s", purge, p.Text())
	}
	if p := b.Post(base+"/delete", url.Values{"reason": {"the customer asked to be forgotten"}, "confirm": {"yes"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("confirmed: %d\n%s", p.Status, p.Text())
	}
	if got := s.status(); got != store.TenantDeleted {
		t.Fatalf("the tenant is %s", got)
	}
	if p := b.Get(base + "/"); !strings.Contains(p.Text(), purge+", unless resumed before") || strings.Contains(p.Body, `id="delete"`) {
		t.Errorf("the deleted tenant's page:\n%s", p.Text())
	}
}

// Password sign-in for monitors is switched on and off by support,
// audited each time.
func TestSupportAllowsPasswordSignInForMonitorsAudited(t *testing.T) {
	s, b := signedIn(t, "help@vendor.example", staff.Support)
	base := "/console/tenants/" + s.Tenant.String() + "/support"
	b.Get(base + "/")
	for _, allow := range []string{"yes", "no"} {
		if p := b.Post(base+"/password-signin", url.Values{"allow": {allow}}); p.Status != http.StatusSeeOther {
			t.Fatalf("allow=%s: %d\n%s", allow, p.Status, p.Text())
		}
		ten, err := s.Store.GetTenant(t.Context(), s.Tenant)
		if err != nil || ten.AllowPasswordSignIn != (allow == "yes") {
			t.Errorf("after allow=%s the tenant allows password sign-in: %v (%v)", allow, ten.AllowPasswordSignIn, err)
		}
	}
	if n := s.audited("staff:help@vendor.example", "tenant.password_signin"); n != 2 {
		t.Errorf("%d changes audited, want 2", n)
	}
}

// The page counts each subscription's expiry down and says the engine's
// last pass and its error.
func TestTheSupportPageShowsSubscriptionsExpiryAndTheEnginesLastPass(t *testing.T) {
	s := newSite(t, console.Limits{})
	s.add("look@vendor.example", staff.Viewer)
	pool := s.Store.Pool()
	for i, expires := range []string{"47 minutes", "5 minutes", "-3 minutes"} {
		m, err := s.Store.AddMonitor(t.Context(), s.Tenant, string(rune('a'+i))+"@contoso.example")
		if err != nil {
			t.Fatal(err)
		}
		testkit.Exec(t, pool, `INSERT INTO subscriptions (tenant_id, monitor_id, resource, graph_id, user_count, expires_at)
			VALUES ($1, $2, 'r', $3, 650, now() + $4::interval + interval '20 seconds')`, s.Tenant, m.ID, "graph-"+m.ID.String(), expires)
	}
	if err := s.Store.RecordReconcile(t.Context(), store.EngineTenant{TenantID: s.Tenant, Users: 1950, Monitors: 3,
		LastError: "renew subscription: Graph answered 503"}, time.Now().Add(-2*time.Minute), false); err != nil {
		t.Fatal(err)
	}
	b := s.browser()
	b.signIn("look@vendor.example")
	p := b.Get("/console/tenants/" + s.Tenant.String() + "/support/")
	text := p.Text()
	for _, want := range []string{"expires in 47 minutes", "expires in 5 minutes", "expired 2 minutes ago", "650 users",
		"2 minutes ago", "renew subscription: Graph answered 503", "1950 users, 3 monitors"} {
		if !strings.Contains(text, want) {
			t.Errorf("the Support page does not say %q:\n%s", want, text)
		}
	}
	for _, badge := range []string{`badge ok subscription-expiry`, `badge pending subscription-expiry`, `badge bad subscription-expiry`} {
		if !strings.Contains(p.Body, badge) {
			t.Errorf("no %s", badge)
		}
	}
}

// A viewer reads the Support page without a button, and every action
// forged with the session's own token is refused before it changes
// anything.
func TestAViewerCannotActOnTheSupportPage(t *testing.T) {
	s, b := signedIn(t, "look@vendor.example", staff.Viewer)
	base := "/console/tenants/" + s.Tenant.String() + "/support"
	p := b.Get(base + "/")
	if p.Status != http.StatusOK {
		t.Fatalf("GET: %d", p.Status)
	}
	for _, id := range []string{`id="suspend"`, `id="delete"`, `id="resume"`, `id="password-toggle"`, `name="reason"`} {
		if strings.Contains(p.Body, id) {
			t.Errorf("a viewer is offered %s", id)
		}
	}
	for path, form := range map[string]url.Values{
		"/suspend":         {"reason": {"x"}, "confirm": {"yes"}},
		"/delete":          {"reason": {"x"}, "confirm": {"yes"}},
		"/resume":          {"confirm": {"yes"}},
		"/password-signin": {"allow": {"yes"}},
	} {
		if p := b.Post(base+path, form); p.Status != http.StatusForbidden {
			t.Errorf("a viewer's forged %s: %d", path, p.Status)
		}
	}
	ten, err := s.Store.GetTenant(t.Context(), s.Tenant)
	if err != nil || ten.Status != store.TenantOnboarding || ten.AllowPasswordSignIn {
		t.Errorf("after a viewer's forged posts the tenant is %s, password sign-in %v (%v)", ten.Status, ten.AllowPasswordSignIn, err)
	}
}
