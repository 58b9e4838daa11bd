package console_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"presencebridge/internal/staff"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
	"presencebridge/web/console"
)

// Every tenant's open alerts in one list, each with how long it has been
// open and the mails sent about it; the filters keep a kind or a tenant
// (by name or id), and the resolved ones come with "Resolved ones too".
func TestTheAlertsOfEveryTenantShowTheirAgeAndTheMailsSent(t *testing.T) {
	s := newSite(t, console.Limits{})
	ctx := t.Context()
	pool := s.Store.Pool()
	fabrikam := storetest.Tenant(t, pool, "Fabrikam")
	if err := s.Store.RaiseAlert(ctx, s.Tenant, store.AlertMonitorNeedsReauth, "m1", "Monitor mon1@contoso.example needs to sign in again", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.RaiseAlert(ctx, fabrikam, store.AlertUsersUnmonitored, "", "3 users are not monitored", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.RaiseAlert(ctx, fabrikam, store.AlertEndpointDisabled, "e1", "The webhook answered 410 Gone", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.ResolveAlert(ctx, fabrikam, store.AlertEndpointDisabled, "e1"); err != nil {
		t.Fatal(err)
	}
	testkit.Exec(t, pool, `UPDATE alerts SET raised_at = now() - interval '3 hours 5 minutes' WHERE kind = $1`, store.AlertMonitorNeedsReauth)
	var alert int64
	pool.QueryRow(ctx, `SELECT id FROM alerts WHERE kind = $1`, store.AlertMonitorNeedsReauth).Scan(&alert)
	for i, reason := range []string{store.MailOpened, store.MailReminder} {
		if err := s.Store.LogMail(ctx, store.SentMail{TenantID: &s.Tenant, AlertID: &alert, Reason: reason, Recipients: []string{"it@contoso.example"},
			Subject: "Presence Bridge: a monitor needs to sign in", Body: "…", SentAt: time.Now().Add(-time.Duration(3-i) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	s.add("look@vendor.example", staff.Viewer)
	b := s.browser()
	b.signIn("look@vendor.example")

	rows := func(p page) []string {
		var out []string
		for _, r := range regexp.MustCompile(`(?s)<li class="alert-row">.*?</li>`).FindAllString(p.Body, -1) {
			out = append(out, strings.Join(strings.Fields(page{Body: r}.Text()), " "))
		}
		return out
	}
	got := rows(b.Get("/console/alerts/"))
	if len(got) != 2 {
		t.Fatalf("open alerts: %q", got)
	}
	contoso := got[1]
	for _, want := range []string{"Contoso", "monitor_needs_reauth", "open for 3 hours 5 minutes", "2 mails sent",
		"reminder mail to it@contoso.example, 2 hours ago", "opened mail to it@contoso.example, 3 hours ago"} {
		if !strings.Contains(contoso, want) {
			t.Errorf("Contoso's alert does not say %q: %s", want, contoso)
		}
	}
	if !strings.Contains(got[0], "Fabrikam") || !strings.Contains(got[0], "no mail sent") {
		t.Errorf("Fabrikam's open alert: %s", got[0])
	}
	for path, want := range map[string][]string{
		"/console/alerts/?kind=" + store.AlertUsersUnmonitored: {"Fabrikam users_unmonitored"},
		"/console/alerts/?tenant=contoso":                      {"Contoso monitor_needs_reauth"},
		"/console/alerts/?tenant=" + fabrikam.String():         {"Fabrikam users_unmonitored"},
		"/console/alerts/?tenant=fabrikam&resolved=1":          {"Fabrikam endpoint_disabled, resolved", "Fabrikam users_unmonitored"},
	} {
		got := rows(b.Get(path))
		if len(got) != len(want) {
			t.Errorf("%s: %q, want %q", path, got, want)
			continue
		}
		for i := range want {
			if !strings.HasPrefix(got[i], want[i]) {
				t.Errorf("%s: %q, want %q", path, got, want)
			}
		}
	}
	if got := rows(b.Get("/console/alerts/?resolved=1&kind=" + store.AlertEndpointDisabled)); len(got) != 1 || !strings.Contains(got[0], "was open less than a minute, resolved just now") {
		t.Errorf("the resolved alert: %q", got)
	}
}

// The list pages newest first by keyset, its filter kept.
func TestTheAlertsListPagesWithItsFilter(t *testing.T) {
	s := newSite(t, console.Limits{})
	for i := range 55 {
		if err := s.Store.RaiseAlert(t.Context(), s.Tenant, store.AlertEndpointDisabled, fmt.Sprint(i), fmt.Sprintf("webhook %02d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Exec(t, s.Store.Pool(), `UPDATE alerts SET raised_at = now() - (subject::int * interval '1 minute')`)
	s.add("look@vendor.example", staff.Viewer)
	b := s.browser()
	b.signIn("look@vendor.example")
	p := b.Get("/console/alerts/?kind=" + store.AlertEndpointDisabled)
	if n := strings.Count(p.Body, `class="alert-row"`); n != 50 || !strings.Contains(p.Text(), "webhook 00") || strings.Contains(p.Text(), "webhook 50") {
		t.Fatalf("the first page has %d alerts:\n%s", n, p.Text())
	}
	m := regexp.MustCompile(`<a href="([^"]+)" id="next-page"`).FindStringSubmatch(p.Body)
	if m == nil || !strings.Contains(m[1], "kind="+store.AlertEndpointDisabled) {
		t.Fatalf("the next page's link: %v", m)
	}
	p = b.Get(unescapeAmp(m[1]))
	if p.Status != http.StatusOK || strings.Count(p.Body, `class="alert-row"`) != 5 || !strings.Contains(p.Text(), "webhook 54") {
		t.Errorf("the second page:\n%s", p.Text())
	}
}
