package onboarding

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graphsim"
)

// The onboarding as a new user finds it (issue 13, "Onboarding polish").

var (
	overviewRE  = regexp.MustCompile(`(?s)<ol class="steps-overview">(.*?)</ol>`)
	listItemRE  = regexp.MustCompile(`(?s)<li[^>]*>(.*?)</li>`)
	stepTitleRE = regexp.MustCompile(`(?s)<h2 id="step-[a-z]+-title">(.*?)</h2>`)
	numberedRE  = regexp.MustCompile(`^Step (\d+) · (.+)$`)
	monitorsRE  = regexp.MustCompile(`(\d+) monitors?\b`)
)

func TestProgressLineAndStepCardsNumberTheSameSteps(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	c.invited()
	for _, saved := range []bool{false, true} {
		if saved {
			c.formSaved()
		}
		body := c.get("/onboarding").body
		ol := overviewRE.FindStringSubmatch(body)
		if ol == nil {
			t.Fatal("no progress line")
		}
		var steps []string
		for _, li := range listItemRE.FindAllStringSubmatch(ol[1], -1) {
			steps = append(steps, text(li[1]))
		}
		if len(steps) == 0 || steps[0] != "Sign in" {
			t.Errorf("saved %v: the progress line %q does not start with the sign-in that comes first", saved, steps)
		}
		cards := stepTitleRE.FindAllStringSubmatch(body, -1)
		if len(cards) != len(steps)-1 {
			t.Errorf("saved %v: %d step cards for the %d steps after signing in %q", saved, len(cards), len(steps)-1, steps)
		}
		for _, card := range cards {
			title := text(card[1])
			m := numberedRE.FindStringSubmatch(title)
			if m == nil {
				t.Errorf("saved %v: card %q has no step number", saved, title)
				continue
			}
			if n, _ := strconv.Atoi(m[1]); n < 1 || n > len(steps) || steps[n-1] != m[2] {
				t.Errorf("saved %v: card %q, but the progress line says %q", saved, title, steps)
			}
		}
	}
}

// neededOnPage is the number of monitors the Complete step asks for.
func neededOnPage(t *testing.T, body string) int {
	t.Helper()
	i := strings.Index(body, `id="step-complete"`)
	if i < 0 {
		t.Fatal("no Complete step")
	}
	m := monitorsRE.FindStringSubmatch(text(body[i:]))
	if m == nil {
		t.Fatalf("the Complete step names no number of monitors:\n%s", text(body[i:]))
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestMonitorsNeededIsTheSameBeforeAndAfterSavingTheForm(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	tenantID := c.invited()
	before := neededOnPage(t, c.get("/onboarding").body)
	c.formSaved()
	after := neededOnPage(t, c.get("/onboarding").body)
	st, err := f.svc.Status(t.Context(), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	if before != st.MonitorsNeeded || after != st.MonitorsNeeded {
		t.Errorf("the page asks for %d monitors before saving and %d after; Complete needs %d", before, after, st.MonitorsNeeded)
	}
}

func TestPasswordSignInIsMentionedOnlyWhenTheTenantAllowsIt(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	tenantID := c.invited()
	c.formSaved()
	c.consented()
	c.addMonitor(0)
	if got := text(c.get("/onboarding").body); strings.Contains(got, "password once") {
		t.Errorf("password sign-in is off, yet the page offers it:\n%s", got)
	}
	if _, err := f.pool.Exec(t.Context(), `UPDATE tenants SET allow_password_signin = true WHERE id = $1`, tenantID); err != nil {
		t.Fatal(err)
	}
	wantText(t, c.get("/onboarding"), http.StatusOK, "Sign in with password once", "exclude these accounts from conditional-access")
}

// monitorRowOf is monitor id's row on the onboarding page.
func monitorRowOf(t *testing.T, body string, id uuid.UUID) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<li class="monitor" id="monitor-` + id.String() + `">.*?</li>`).FindString(body)
	if m == "" {
		t.Fatalf("no row for monitor %s", id)
	}
	return m
}

func TestRetryIsOfferedOnlyAfterAFailedSignIn(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	id := c.monitorAdded()
	if row := monitorRowOf(t, c.get("/onboarding").body, id); strings.Contains(row, "/retry") {
		t.Errorf("a monitor never tried offers Retry:\n%s", text(row))
	}
	q := c.monitorCallback(id, f.ten().Monitors[1]) // the wrong account: the sign-in fails
	p := c.follow(c.get("/onboarding/monitors/callback?" + q.Encode()))
	row := monitorRowOf(t, p.body, id)
	if !strings.Contains(row, "/retry") {
		t.Errorf("after a failed sign-in the monitor offers no Retry:\n%s", text(row))
	}
	if got := text(row); !strings.Contains(got, "You signed in as "+f.ten().Monitors[1].UPN) {
		t.Errorf("the row does not say what failed: %s", got)
	}
}

// monitorAdded takes a new invitation in c to consent and adds the seeded
// monitor 0, which it returns.
func (c *client) monitorAdded() uuid.UUID {
	c.t.Helper()
	c.invited()
	c.formSaved()
	c.consented()
	return c.addMonitor(0)
}

var copyURLRE = regexp.MustCompile(`class="copy-url" value="([^"]+)"`)

// copyURL presses Copy URL for monitor id and returns the link the page
// shows.
func (c *client) copyURL(id uuid.UUID) string {
	c.t.Helper()
	p := c.post("/onboarding/monitors/"+id.String()+"/link", nil)
	if p.status == http.StatusSeeOther {
		p = c.follow(p)
	}
	m := copyURLRE.FindStringSubmatch(monitorRowOf(c.t, p.body, id))
	if m == nil {
		c.t.Fatalf("no Copy URL on the page:\n%s", text(p.body))
	}
	return html.UnescapeString(m[1])
}

// linkSignIn opens a Copy URL in c and signs who in; it returns the
// callback's answer.
func (c *client) linkSignIn(link string, who graphsim.SeedUser) page {
	c.t.Helper()
	wantText(c.t, c.get(link), http.StatusOK, "Sign in as "+who.UPN)
	p := c.post("/onboarding/m/start", nil)
	if p.status != http.StatusSeeOther || !strings.Contains(p.location, "/oauth2/v2.0/authorize") {
		c.t.Fatalf("link sign-in start: %d %q\n%s", p.status, p.location, text(p.body))
	}
	q, err := graphsim.NewPerson().SignIn(context.Background(), p.location, who.UPN, who.Password)
	if err != nil {
		c.t.Fatalf("at Microsoft: %v", err)
	}
	return c.get("/onboarding/monitors/callback?" + q.Encode())
}

func TestACopyURLSignInEndsAtAnAddressWithoutItsCode(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	id := c.monitorAdded()
	holder := f.newClient()
	p := holder.linkSignIn(c.copyURL(id), f.ten().Monitors[0])
	if p.status != http.StatusSeeOther || strings.Contains(p.location, "code=") || strings.Contains(p.location, "state=") {
		t.Fatalf("the callback answers %d %q: the done page keeps the sign-in's code in its address", p.status, p.location)
	}
	wantText(t, holder.follow(p), http.StatusOK, "Done, you can close this page", f.ten().Monitors[0].UPN+" is signed in.")
	if p := holder.get(p.location); p.status == http.StatusOK && strings.Contains(text(p.body), "is signed in") {
		t.Error("the done page is shown again on reload; it is a one-time page")
	}
}

func TestAUsedCopyURLSaysTheMonitorIsSignedInAsGoodNews(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	id := c.monitorAdded()
	link := c.copyURL(id)
	holder := f.newClient()
	if p := holder.linkSignIn(link, f.ten().Monitors[0]); p.status >= 400 {
		t.Fatalf("link sign-in: %d\n%s", p.status, text(p.body))
	}
	p := f.newClient().get(link)
	wantText(t, p, http.StatusOK, "Already signed in", f.ten().Monitors[0].UPN+" is already signed in.", "Nothing more to do")
	if strings.Contains(p.body, "does not work") || strings.Contains(p.body, "notice error") {
		t.Errorf("a used link's good news is told as an error:\n%s", text(p.body))
	}
}

func TestCopyURLAgainWithdrawsTheEarlierLinkAsItsHintSays(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	id := c.monitorAdded()
	first := c.copyURL(id)
	second := c.copyURL(id)
	if first == second {
		t.Fatal("Copy URL gave the same link twice")
	}
	wantText(t, f.newClient().get(first), http.StatusGone, "This link was withdrawn.")
	wantText(t, f.newClient().get(second), http.StatusOK, "Sign in as "+f.ten().Monitors[0].UPN)
	p := c.post("/onboarding/monitors/"+id.String()+"/link", nil)
	if p.status == http.StatusSeeOther {
		p = c.follow(p)
	}
	if got := text(monitorRowOf(t, p.body, id)); !strings.Contains(got, "Pressing Copy URL again replaces it") {
		t.Errorf("the hint does not say that another Copy URL replaces this one: %s", got)
	}
	var n int
	f.pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE action = 'monitor.link_created'`).Scan(&n)
	if n != 3 {
		t.Errorf("%d monitor.link_created audit entries for 3 Copy URLs", n)
	}
}

func TestCopyURLIsShownAfterARedirectSoAReloadMakesNoOther(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	id := c.monitorAdded()
	p := c.post("/onboarding/monitors/"+id.String()+"/link", nil)
	if p.status != http.StatusSeeOther {
		t.Fatalf("Copy URL answers %d, not a redirect: a reload sends the form again", p.status)
	}
	if !strings.Contains(monitorRowOf(t, c.follow(p).body, id), `class="copy-url"`) {
		t.Error("no Copy URL after the redirect")
	}
	if strings.Contains(monitorRowOf(t, c.get("/onboarding").body, id), `class="copy-url"`) {
		t.Error("the Copy URL is shown again on the next view")
	}
}

func TestTheSummarySaysWhatIsMonitoredNotWhatWillBe(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	tenantID := c.invited()
	c.formSaved()
	c.consented()
	monitor := c.authorized(0)
	c.authorized(1)
	p := c.follow(c.post("/onboarding/complete", nil))
	wantText(t, p, http.StatusOK, "Contoso Ltd is connected", "Subscribing")
	if got := text(p.body); strings.Contains(got, "now follows your users' presence") || strings.Contains(got, "Monitoring ") {
		t.Errorf("nothing is subscribed yet, but the summary says otherwise:\n%s", got)
	}

	// The engine resolves the users (one is not found) and subscribes.
	ctx := t.Context()
	mustExec := func(sql string, args ...any) {
		t.Helper()
		if _, err := f.pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	mustExec(`UPDATE directory_users SET resolution_status = 'resolved', monitor_id = $2, object_id = gen_random_uuid()
		WHERE tenant_id = $1`, tenantID, monitor)
	mustExec(`UPDATE directory_users SET resolution_status = 'not_found', monitor_id = NULL, object_id = NULL
		WHERE id = (SELECT id FROM directory_users WHERE tenant_id = $1 ORDER BY upn LIMIT 1)`, tenantID)
	var resolved int
	f.pool.QueryRow(ctx, `SELECT count(*) FROM directory_users WHERE tenant_id = $1 AND resolution_status = 'resolved'`, tenantID).Scan(&resolved)
	p = c.get("/onboarding")
	wantText(t, p, http.StatusOK, "Subscribing")
	mustExec(`INSERT INTO subscriptions (tenant_id, monitor_id, graph_id, resource, expires_at)
		VALUES ($1, $2, 'sub-1', '/communications/presences', now() + interval '1 hour')`, tenantID, monitor)
	p = c.get("/onboarding")
	wantText(t, p, http.StatusOK, "Monitoring "+strconv.Itoa(resolved)+" users", "1 user not found")
	if strings.Contains(text(p.body), "Subscribing") {
		t.Errorf("still subscribing once subscribed:\n%s", text(p.body))
	}
}

func TestAStaleSignInSignsInAgainBeforeRevealingASecretOrCreatingAKey(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	tenantID := c.completed()
	hook := "https://events.example.com/presence"
	f.advance(11 * time.Minute)
	audit := func() (n int) {
		f.pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE tenant_id = $1`, tenantID).Scan(&n)
		return n
	}
	before := audit()
	for _, post := range []func() page{
		func() page { return c.post("/onboarding/integrations/reveal", url.Values{"url": {hook}}) },
		func() page { return c.post("/onboarding/api-keys", nil) },
	} {
		p := post()
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/onboarding") {
			t.Fatalf("a stale sign-in: %d %q", p.status, p.location)
		}
		wantText(t, c.follow(p), http.StatusOK, "Sign in again", "10 minutes")
	}
	if n := audit(); n != before {
		t.Errorf("a stale sign-in revealed or created something: %d audit entries, want %d", n, before)
	}
	var keys int
	f.pool.QueryRow(t.Context(), `SELECT count(*) FROM api_keys`).Scan(&keys)
	if keys != 0 {
		t.Errorf("%d API keys made with a stale sign-in", keys)
	}

	// Signing in again, as the same administrator, with credentials entered now.
	p := c.post("/onboarding/signin/again", nil)
	u, _ := url.Parse(p.location)
	if q := u.Query(); p.status != http.StatusSeeOther || q.Get("prompt") != "login" || q.Get("max_age") != "600" ||
		q.Get("login_hint") != f.ten().Admin.UPN {
		t.Fatalf("sign in again: %d %s", p.status, p.location)
	}
	q, err := graphsim.NewPerson().SignIn(t.Context(), p.location, f.ten().Admin.UPN, f.ten().Admin.Password)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.now = time.Now() // the identity platform's clock: the new sign-in is fresh
	f.mu.Unlock()
	p = c.get("/onboarding/signin/callback?" + q.Encode())
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/onboarding") {
		t.Fatalf("after signing in again: %d %q\n%s", p.status, p.location, text(p.body))
	}
	p = c.follow(c.post("/onboarding/integrations/reveal", url.Values{"url": {hook}}))
	wantText(t, p, http.StatusOK, "Signing secret")
	if !strings.Contains(p.body, "whsec_") {
		t.Error("no signing secret after signing in again")
	}
}
