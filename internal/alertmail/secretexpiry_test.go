package alertmail_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/testkit"
)

// An own app's client secret is warned of at 30, 7 and 1 days, one mail
// each (a graver stage is no "resolved"), and a last mail when a secret
// further away replaces it.
func TestAnExpiringSecretIsWarnedOfAt30And7And1DaysAndWhenReplaced(t *testing.T) {
	f := newFixture(t)
	s := f.sender()
	exp := f.clock.Now().Add(40 * 24 * time.Hour)
	testkit.Exec(t, f.st.Pool(), `INSERT INTO tenant_apps (tenant_id, client_id, app_tenant_id, secret_expires_at) VALUES ($1, $2, $3, $4)`,
		f.tenant, uuid.New(), uuid.New(), exp)
	steps := []struct {
		at      time.Duration // before expiry
		subject string        // "" for no mail
	}{
		{31 * 24 * time.Hour, ""},
		{29 * 24 * time.Hour, "Your app registration's client secret expires within 30 days"},
		{20 * 24 * time.Hour, ""}, // no daily reminders
		{6 * 24 * time.Hour, "Your app registration's client secret expires within 7 days"},
		{2 * 24 * time.Hour, ""},
		{20 * time.Hour, "Your app registration's client secret expires within a day"},
		{-time.Hour, ""}, // expired: the engine's access check takes it from here
	}
	seen := 0
	for _, st := range steps {
		f.clock.mu.Lock()
		f.clock.now = exp.Add(-st.at)
		f.clock.mu.Unlock()
		f.pass(s)
		got := f.captured()
		switch {
		case st.subject == "" && len(got) != seen:
			t.Fatalf("%v before expiry: unexpected mail %q", st.at, got[len(got)-1].Subject)
		case st.subject != "" && (len(got) != seen+1 || !strings.HasSuffix(got[seen].Subject, "Contoso: "+st.subject)):
			t.Fatalf("%v before expiry: %d new mails (%+v), want one %q", st.at, len(got)-seen, got[seen:], st.subject)
		}
		seen = len(got)
	}
	if body := f.captured()[2].Body; !strings.Contains(body, "Certificates & secrets") || !strings.Contains(body, "https://bridge.example/portal") {
		t.Errorf("the warning does not say how to replace the secret:\n%s", body)
	}
	testkit.Exec(t, f.st.Pool(), `UPDATE tenant_apps SET secret_expires_at = $2 WHERE tenant_id = $1`, f.tenant, f.clock.Now().Add(365*24*time.Hour))
	f.pass(s)
	got := f.captured()
	if len(got) != seen+1 || !strings.Contains(got[seen].Subject, "Resolved: Your app registration's client secret expires within a day") {
		t.Fatalf("after the secret was replaced: %+v", got[seen:])
	}
	if n := f.pass(s); n != 0 {
		t.Errorf("%d more mails", n)
	}
}
