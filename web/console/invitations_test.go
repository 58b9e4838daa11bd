package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"presencebridge/internal/onboarding"
	"presencebridge/internal/staff"
	"presencebridge/internal/store/storetest"
	"presencebridge/web/console"
)

var inviteLinkRE = regexp.MustCompile(`id="invite-link" class="copy-url" value="([^"]+)"`)

// openInvite opens an invitation link as onboarding does, failing the
// test unless it works for tenant name.
func (s *site) openInvite(link, name string) {
	s.t.Helper()
	inv, err := s.Onboarding.Invitation(s.t.Context(), link[strings.LastIndex(link, "/")+1:])
	if err != nil {
		s.t.Fatalf("the invitation link does not open: %v", err)
	}
	if ten, err := s.Store.GetTenant(s.t.Context(), inv.TenantID); err != nil || ten.Name != name || ten.Status != "onboarding" {
		s.t.Errorf("the link opens %+v (%v), want %s in onboarding", ten, err, name)
	}
}

// Support creates an invitation: a tenant in onboarding and its link,
// shown once to copy (sealed in the session on its way), audited as the
// staff member; the link works for the time chosen.
func TestSupportCreatesAnInvitationWhoseLinkIsShownOnceToCopy(t *testing.T) {
	s, b := signedIn(t, "help@vendor.example", staff.Support)
	b.Get("/console/invitations/")
	p := b.Post("/console/invitations/", url.Values{"name": {"Northwind Traders"}, "ttl": {"72h"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", p.Status, p.Text())
	}
	sessions := storetest.TableText(t, s.Store.Pool(), "sessions")
	p = b.Get(p.Location)
	m := inviteLinkRE.FindStringSubmatch(p.Body)
	if m == nil || !strings.HasPrefix(m[1], productURL+"/onboarding/i/") {
		t.Fatalf("no invitation link to copy:\n%s", p.Body)
	}
	link := m[1]
	storetest.RequireNotIn(t, "the sessions table after the POST", sessions, link[strings.LastIndex(link, "/")+1:])
	if !strings.Contains(p.Body, `id="copy-invite"`) || !strings.Contains(p.Text(), "Invitation for Northwind Traders") {
		t.Errorf("the page shows no Copy button or no tenant:\n%s", p.Text())
	}
	s.openInvite(link, "Northwind Traders")
	if !strings.Contains(p.Text(), "Northwind Traders") || !strings.Contains(p.Text(), "expires in 2 days") {
		t.Errorf("the list of invitations in force:\n%s", p.Text())
	}
	if p := b.Get("/console/invitations/"); inviteLinkRE.MatchString(p.Body) {
		t.Error("the link is shown again on the next view")
	}
	if n := s.audited("staff:help@vendor.example", "invite.created"); n != 1 {
		t.Errorf("%d invitations audited as the staff member", n)
	}
}

// The form keeps what was entered and says what is wrong: no name, or a
// lifetime the service refuses (only a forged form sends one).
func TestAnInvitationWithoutANameOrWithTooLongALifeIsRefusedInWords(t *testing.T) {
	s, b := signedIn(t, "help@vendor.example", staff.Support)
	b.Get("/console/invitations/")
	p := b.Post("/console/invitations/", url.Values{"name": {" "}, "ttl": {"72h"}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Text(), "Enter the customer's name") {
		t.Errorf("no name: %d\n%s", p.Status, p.Text())
	}
	p = b.Post("/console/invitations/", url.Values{"name": {"Fabrikam"}, "ttl": {"169h"}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Text(), "at most 168h0m0s (7 days)") || !strings.Contains(p.Body, `value="Fabrikam"`) {
		t.Errorf("8 days: %d\n%s", p.Status, p.Text())
	}
	var n int
	s.Store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM invites`).Scan(&n)
	if n != 0 {
		t.Errorf("%d invitations made by refused forms", n)
	}
}

// Withdrawing takes an invitation out of those in force (all of them
// still list it, withdrawn); inviting the tenant again shows a new link
// that works, the old one withdrawn; a tenant onboarded is not invited.
func TestSupportWithdrawsAnInvitationAndInvitesTheTenantAgain(t *testing.T) {
	s := newSite(t, console.Limits{})
	s.add("help@vendor.example", staff.Support)
	ten, old, err := s.Onboarding.CreateInvite(t.Context(), "Northwind Traders", "staff:cli", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b := s.browser()
	b.signIn("help@vendor.example")
	p := b.Get("/console/invitations/")
	m := regexp.MustCompile(`action="(/console/invitations/[^/]+/revoke)"`).FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no Withdraw button:\n%s", p.Body)
	}
	if p := b.Post(m[1], url.Values{}); p.Status != http.StatusSeeOther {
		t.Fatalf("withdraw: %d\n%s", p.Status, p.Text())
	}
	if _, err := s.Onboarding.Invitation(t.Context(), old[strings.LastIndex(old, "/")+1:]); err != onboarding.ErrLinkRevoked {
		t.Errorf("the withdrawn link: %v", err)
	}
	if p := b.Get("/console/invitations/"); !strings.Contains(p.Body, `id="no-invites"`) {
		t.Errorf("a withdrawn invitation is still listed in force:\n%s", p.Text())
	}
	p = b.Get("/console/invitations/?all=1")
	if !strings.Contains(p.Body, `invite-state">withdrawn`) {
		t.Errorf("all invitations:\n%s", p.Text())
	}
	p = b.Post("/console/invitations/reinvite", url.Values{"tenant": {ten.ID.String()}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("invite again: %d\n%s", p.Status, p.Text())
	}
	m = inviteLinkRE.FindStringSubmatch(b.Get(p.Location).Body)
	if m == nil {
		t.Fatal("no new link shown")
	}
	s.openInvite(m[1], "Northwind Traders")
	if n := s.audited("staff:help@vendor.example", "invite.revoked"); n != 1 {
		t.Errorf("%d withdrawals audited as the staff member", n)
	}

	if err := s.Store.CompleteOnboarding(t.Context(), ten.ID); err != nil {
		t.Fatal(err)
	}
	p = b.Post("/console/invitations/reinvite", url.Values{"tenant": {ten.ID.String()}})
	if p.Status != http.StatusConflict || !strings.Contains(p.Text(), "Only a tenant still in onboarding can be invited again.") {
		t.Errorf("inviting an onboarded tenant again: %d\n%s", p.Status, p.Text())
	}
}

// A viewer reads the invitations without a form or button; forged posts
// are refused and make nothing.
func TestAViewerCannotInviteWithdrawOrInviteAgain(t *testing.T) {
	s := newSite(t, console.Limits{})
	s.add("look@vendor.example", staff.Viewer)
	ten, _, err := s.Onboarding.CreateInvite(t.Context(), "Northwind Traders", "staff:cli", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b := s.browser()
	b.signIn("look@vendor.example")
	p := b.Get("/console/invitations/")
	if p.Status != http.StatusOK || !strings.Contains(p.Text(), "Northwind Traders") {
		t.Fatalf("a viewer's list: %d\n%s", p.Status, p.Text())
	}
	for _, id := range []string{`id="create-invite"`, `revoke-invite`, `class="secondary reinvite"`} {
		if strings.Contains(p.Body, id) {
			t.Errorf("a viewer is offered %s", id)
		}
	}
	var invite string
	s.Store.Pool().QueryRow(t.Context(), `SELECT id FROM invites`).Scan(&invite)
	for path, form := range map[string]url.Values{
		"/console/invitations/":                      {"name": {"Forged"}, "ttl": {"72h"}},
		"/console/invitations/" + invite + "/revoke": {},
		"/console/invitations/reinvite":              {"tenant": {ten.ID.String()}},
	} {
		if p := b.Post(path, form); p.Status != http.StatusForbidden {
			t.Errorf("a viewer's forged POST %s: %d", path, p.Status)
		}
	}
	var n int
	s.Store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM invites WHERE revoked_at IS NULL`).Scan(&n)
	if n != 1 {
		t.Errorf("%d invitations in force after a viewer's forged posts, want the one", n)
	}
}
