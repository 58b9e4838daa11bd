package onboarding

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"presencebridge/internal/store/storetest"
)

var apiKeyRE = regexp.MustCompile(`id="api-key" class="copy-value" value="([^"]+)"`)

// Reveal answers with a redirect (a reload sends nothing again) to the
// summary, which shows the secret on that one view.
func TestSigningSecretIsShownOnceAfterTheRedirectOfReveal(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	tenantID := c.completed()
	ints, err := f.svc.Integrations(t.Context(), tenantID)
	if err != nil || len(ints) != 1 {
		t.Fatalf("integrations after completing: %d %v", len(ints), err)
	}
	hook := ints[0].WebhookURL
	secret, err := f.svc.SigningSecret(t.Context(), tenantID, hook, "test")
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("signing secret: %v", err)
	}
	secretHTML := html.EscapeString(secret)

	p := c.get("/onboarding")
	wantText(t, p, http.StatusOK, "Integration", hook, "Enabled", "Reveal signing secret", "Create API key")
	if strings.Contains(p.body, secret) || strings.Contains(p.body, secretHTML) {
		t.Fatal("the summary shows the signing secret without Reveal")
	}

	// Without the session's token, or from another site: refused, nothing shown.
	for name, header := range map[string][]string{"missing token": nil, "cross-site": {"Sec-Fetch-Site", "cross-site", "Origin", "https://attacker.example"}} {
		form := url.Values{"url": {hook}}
		if header == nil {
			form.Set("csrf", "")
		}
		p = c.post("/onboarding/integrations/reveal", form, header...)
		wantText(t, p, http.StatusForbidden, "This form has expired or was sent from another site.")
		if strings.Contains(p.body, secretHTML) {
			t.Errorf("%s: the refusal shows the secret", name)
		}
	}

	p = c.post("/onboarding/integrations/reveal", url.Values{"url": {hook}})
	if p.status != http.StatusSeeOther || p.location != "/onboarding#webhook-0" {
		t.Fatalf("Reveal answers %d %q, want 303 to the summary", p.status, p.location)
	}
	if strings.Contains(p.body, secretHTML) || strings.Contains(p.location, secret) {
		t.Error("the redirect carries the secret")
	}
	// The session row carries it to the summary, sealed.
	storetest.RequireNotStored(t, f.pool, secret)
	p = c.follow(p)
	wantText(t, p, http.StatusOK, "Signing secret", "webhook-signature", "Standard Webhooks",
		"shown on this page view only", "reloading or leaving hides it, and Reveal signing secret shows it again")
	if !strings.Contains(p.body, `class="copy-value" value="`+secretHTML+`" readonly`) {
		t.Errorf("the response lacks the secret in a read-only field:\n%s", text(p.body))
	}
	if !strings.Contains(p.body, `data-copy="signing-secret-0"`) {
		t.Error("the secret has no Copy button")
	}
	if strings.Contains(c.get("/onboarding").body, secretHTML) {
		t.Error("the secret is still on the summary when reloaded")
	}
	p = c.follow(c.post("/onboarding/integrations/reveal", url.Values{"url": {hook}}))
	if !strings.Contains(p.body, secretHTML) {
		t.Error("Reveal signing secret does not show it again, as the page says it does")
	}
	wantText(t, c.post("/onboarding/integrations/reveal", url.Values{"url": {"https://other.example/hook"}}), http.StatusNotFound,
		"This webhook is not part of your connection.")
	if strings.Contains(f.logs.String(), secret) {
		t.Error("the signing secret is in the logs")
	}
}

// Create API key answers with a redirect to the summary, which shows the
// key on that one view; only its hash is stored.
func TestAPIKeyIsShownOnceAfterTheRedirectAndStoredOnlyAsAHash(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	tenantID := c.completed()
	count := func() (n int) {
		f.pool.QueryRow(t.Context(), `SELECT count(*) FROM api_keys`).Scan(&n)
		return n
	}

	p := c.post("/onboarding/api-keys", url.Values{"csrf": {""}})
	wantText(t, p, http.StatusForbidden, "This form has expired or was sent from another site.")
	if n := count(); n != 0 {
		t.Fatalf("a refused request created %d API keys", n)
	}

	p = c.post("/onboarding/api-keys", nil)
	if p.status != http.StatusSeeOther || p.location != "/onboarding#api-keys" {
		t.Fatalf("Create API key answers %d %q, want 303 to the summary", p.status, p.location)
	}
	// The session row carries it to the summary, sealed: read before the
	// summary takes it.
	sessions := storetest.TableText(t, f.pool, "sessions")
	p = c.follow(p)
	wantText(t, p, http.StatusOK, "API key created.", "/api/v1/events", "Server-Sent Events", "Authorization: Bearer <key>",
		"stores only a hash of it, so it cannot be shown again")
	m := apiKeyRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no API key on the page:\n%s", text(p.body))
	}
	key := html.UnescapeString(m[1])
	storetest.RequireNotIn(t, "the sessions table before the summary", sessions, key)
	got, err := f.st.VerifyAPIKey(t.Context(), key)
	if err != nil || got != tenantID {
		t.Errorf("VerifyAPIKey = %v %v, want tenant %v", got, err, tenantID)
	}
	if strings.Contains(c.get("/onboarding").body, m[1]) {
		t.Error("the key is shown again on the summary")
	}
	storetest.RequireNotStored(t, f.pool, key) // nor kept in the session once shown
	if n := count(); n != 1 {
		t.Errorf("%d API keys after one Create API key and two page views", n)
	}
	if strings.Contains(f.logs.String(), key) {
		t.Error("the API key is in the logs")
	}
}

func TestIntegrationActionsWaitForCompletion(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	c.invited()
	c.formSaved()
	wantText(t, c.post("/onboarding/api-keys", nil), http.StatusConflict, "available once the connection is complete")
	wantText(t, c.post("/onboarding/integrations/reveal", url.Values{"url": {"https://events.example.com/presence"}}),
		http.StatusConflict, "available once the connection is complete")
	var n int
	f.pool.QueryRow(t.Context(), `SELECT count(*) FROM api_keys`).Scan(&n)
	if n != 0 {
		t.Errorf("%d API keys before completion", n)
	}
}
