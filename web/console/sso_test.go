package console_test

import (
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/identity"
	"presencebridge/internal/staff"
	"presencebridge/web/console"
)

// ssoSite is the console with single sign-on against graphsim's second
// tenant, the vendor's; its first tenant is a customer's.
type ssoSite struct {
	*site
	Vendor, Other graphsim.SeedTenant
}

func newSSOSite(t *testing.T) *ssoSite {
	t.Helper()
	sim := graphsim.New(graphsim.Options{})
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(simSrv.Close)
	sim.SetBaseURL(simSrv.URL)
	id, err := identity.New(identity.Options{LoginURL: simSrv.URL})
	if err != nil {
		t.Fatal(err)
	}
	seed := graphsim.GenerateSeed(2, 3, 1, 14)
	s := newSiteWith(t, console.Limits{}, func(d *console.Deps, base string) {
		seed.App.RedirectURIs = []string{base + "/console/callback"}
		d.SSO = &console.SSO{Identity: id, App: identity.App{ClientID: seed.App.ClientID, ClientSecret: seed.App.ClientSecret},
			RedirectURI: base + "/console/callback", Tenant: seed.Tenants[1].Domain}
	})
	if err := sim.Apply(seed); err != nil {
		t.Fatal(err)
	}
	return &ssoSite{site: s, Vendor: seed.Tenants[1], Other: seed.Tenants[0]}
}

var microsoftLink = regexp.MustCompile(`href="([^"]+)" class="button secondary" id="sign-in-microsoft"`)

// atMicrosoft follows the sign-in page's "Sign in with Microsoft" (page is
// the sign-in page's path) and returns the identity platform's URL it
// leads to.
func (b *browser) atMicrosoft(page string) string {
	b.s.t.Helper()
	m := microsoftLink.FindStringSubmatch(b.Get(page).Body)
	if m == nil {
		b.s.t.Fatalf("%s offers no sign-in with Microsoft", page)
	}
	p := b.Get(html.UnescapeString(m[1]))
	if p.Status != http.StatusSeeOther {
		b.s.t.Fatalf("sign in with Microsoft: %d\n%s", p.Status, p.Text())
	}
	return p.Location
}

// microsoft signs who in at authURL (graphsim's pages, as a person would)
// and brings the answer back to the console's callback.
func (b *browser) microsoft(authURL string, who graphsim.SeedUser) page {
	b.s.t.Helper()
	q, err := graphsim.NewPerson().SignIn(b.s.t.Context(), authURL, who.UPN, who.Password)
	if err != nil {
		b.s.t.Fatalf("%s at Microsoft: %v", who.UPN, err)
	}
	return b.Get("/console/callback?" + q.Encode())
}

// refusal is a sign-in page's notice.
func refusal(p page) string {
	return regexp.MustCompile(`(?s)<div class="notice error" role="alert">.*?</div>`).FindString(p.Body)
}

func TestAStaffMemberSignsInWithMicrosoftAtTheVendorsTenantUnderANewSession(t *testing.T) {
	s := newSSOSite(t)
	ann := s.Vendor.Users[0]
	s.add(strings.ToUpper(ann.UPN), staff.Support)
	b := s.browser()
	before := b.cookie()
	auth := b.atMicrosoft("/console/users?q=x") // the page asked for, kept across the sign-in
	if u, _ := url.Parse(auth); !strings.HasPrefix(u.Path, "/"+s.Vendor.Domain+"/oauth2/v2.0/authorize") {
		t.Fatalf("signing in with Microsoft leads to %s, want the vendor's tenant's authority", auth)
	}
	p := b.microsoft(auth, ann)
	if p.Status != http.StatusSeeOther || p.Location != "/console/users" {
		t.Fatalf("the callback: %d to %q\n%s", p.Status, p.Location, p.Text())
	}
	if b.cookie() == before || b.cookie() == "" {
		t.Error("the session token was not renewed at sign-in")
	}
	if p := b.Get("/console/account"); !strings.Contains(p.Body, `id="role">support<`) {
		t.Errorf("signed in with Microsoft, the account page:\n%s", p.Text())
	}
	var via string
	if err := s.Store.Pool().QueryRow(t.Context(), `SELECT detail->>'via' FROM audit_log WHERE actor = $1 AND action = 'staff.signed_in'`,
		staff.Actor(ann.UPN)).Scan(&via); err != nil || via != "microsoft" {
		t.Errorf("the sign-in audited via %q (%v), want microsoft", via, err)
	}
	if p := b.Get("/console/callback?" + url.Values{"code": {"x"}, "state": {"y"}}.Encode()); p.Status != http.StatusBadRequest ||
		!strings.Contains(p.Text(), "This sign-in response was refused.") {
		t.Errorf("a callback of no sign-in begun: %d\n%s", p.Status, p.Text())
	}

	// ?fresh=1 asks Microsoft for credentials entered now, as ann.
	auth = b.atMicrosoft("/console/signin?fresh=1&return=/console/staff")
	if q := mustQuery(t, auth); q.Get("prompt") != "login" || q.Get("max_age") != "600" || q.Get("login_hint") != strings.ToUpper(ann.UPN) {
		t.Errorf("a fresh sign-in with Microsoft asks %v", q)
	}
}

func mustQuery(t *testing.T, u string) url.Values {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return parsed.Query()
}

// Whoever Microsoft signs in, only a staff account that may sign in gets
// in, and every refusal is the page a wrong password gets.
func TestSingleSignOnRefusesOtherTenantsUnknownAddressesAndDisabledAccountsAsAWrongPassword(t *testing.T) {
	s := newSSOSite(t)
	outsider, unknown, gone := s.Other.Users[0], s.Vendor.Users[1], s.Vendor.Users[2]
	s.add(outsider.UPN, staff.Admin) // an account with their address: only their tenant stands in the way
	s.add(gone.UPN, staff.Support)
	if _, err := s.Staff.Disable(t.Context(), gone.UPN, "staff:test"); err != nil {
		t.Fatal(err)
	}
	s.add("ops@vendor.example", staff.Support)
	wrong := s.signInWith("ops@vendor.example", "not the password at all")
	if wrong.Status != http.StatusUnauthorized || refusal(wrong) == "" {
		t.Fatalf("a wrong password: %d\n%s", wrong.Status, wrong.Text())
	}

	b := s.browser()
	auth := b.atMicrosoft("/console/signin")
	_, err := graphsim.NewPerson().SignIn(t.Context(), auth, outsider.UPN, outsider.Password)
	if pe, ok := errors.AsType[*graphsim.PageError](err); !ok || !strings.Contains(pe.Message, "AADSTS50020") {
		t.Errorf("%s of another tenant at the vendor's authority: %v, want Microsoft's refusal (AADSTS50020)", outsider.UPN, err)
	}
	// The authority changed to the multi-tenant one in the browser: Microsoft
	// signs them in at their own tenant, and the console refuses.
	auth = strings.Replace(b.atMicrosoft("/console/signin"), "/"+s.Vendor.Domain+"/", "/organizations/", 1)
	for name, p := range map[string]page{
		"another tenant's account": b.microsoft(auth, outsider),
		"an unknown address":       b.microsoft(b.atMicrosoft("/console/signin"), unknown),
		"a disabled account":       b.microsoft(b.atMicrosoft("/console/signin"), gone),
	} {
		if p.Status != http.StatusUnauthorized || refusal(p) != refusal(wrong) {
			t.Errorf("%s: %d %q, want 401 and the wrong password's %q", name, p.Status, refusal(p), refusal(wrong))
		}
	}
	if p := b.Get("/console/"); !strings.Contains(p.Body, `id="sign-in"`) {
		t.Errorf("after the refusals the console is open:\n%s", p.Text())
	}
	if n := s.audited(staff.Actor(gone.UPN), "staff.sign_in_refused"); n != 1 {
		t.Errorf("the disabled account's refusal audited %d times, want 1", n)
	}
}

func TestTheSignInPageOffersMicrosoftOnlyWithSingleSignOn(t *testing.T) {
	s := newSite(t, console.Limits{})
	b := s.browser()
	if p := b.Get("/console/signin"); strings.Contains(p.Body, "sign-in-microsoft") {
		t.Error("the sign-in page offers Microsoft without single sign-on")
	}
	if p := b.Get("/console/signin/microsoft"); p.Status != http.StatusNotFound {
		t.Errorf("GET /console/signin/microsoft without single sign-on: %d, want 404", p.Status)
	}
}
