package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/testkit"
)

// TestInviteCreatePrintsALinkTheWebRoleOpens creates an invitation with the
// command, then opens it on a running web role: the link binds the tenant
// to a browser session and leads to its onboarding page.
func TestInviteCreatePrintsALinkTheWebRoleOpens(t *testing.T) {
	dsn := testkit.NewDatabase(t)
	env := []string{"PB_ENV=development", "PB_DATABASE_URL=" + dsn, testKey}
	web := startProcess(t, env, "web")
	base := web.waitReady(t, 30*time.Second)

	var stderr strings.Builder
	create := command(t.Context(), append(env, "PB_BASE_URL="+base), "invite", "create", "--name", "Contoso", "--ttl", "48h",
		"--by", "ops@vendor.example")
	create.Stderr = &stderr
	out, err := create.Output()
	if err != nil {
		t.Fatalf("invite create: %v\n%s%s", err, out, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	link := lines[0]
	if !strings.HasPrefix(link, base+"/onboarding/i/") || len(lines) != 2 || !strings.Contains(lines[1], "(Contoso), link valid until") {
		t.Fatalf("invite create printed:\n%s", out)
	}

	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var name, status, actor string
	var expires time.Time
	err = pool.QueryRow(t.Context(), `SELECT t.name, t.status, i.expires_at, a.actor FROM tenants t JOIN invites i ON i.tenant_id = t.id
		JOIN audit_log a ON a.tenant_id = t.id AND a.action = 'invite.created'`).Scan(&name, &status, &expires, &actor)
	if err != nil {
		t.Fatal(err)
	}
	if name != "Contoso" || status != "onboarding" || actor != "staff:ops@vendor.example" || time.Until(expires) < 47*time.Hour || time.Until(expires) > 48*time.Hour {
		t.Errorf("tenant %s %s, invite expires %s, by %s", name, status, expires, actor)
	}

	jar, _ := cookiejar.New(nil)
	resp, err := (&http.Client{Jar: jar}).Get(link)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Connect Contoso to Presence Bridge") || !strings.Contains(string(body), "Sign in with Microsoft") {
		t.Fatalf("opening the link: %d at %s\n%s", resp.StatusCode, resp.Request.URL, body)
	}
	if token := strings.TrimPrefix(link, base+"/onboarding/i/"); strings.Contains(web.log(), token) {
		t.Error("the invitation token is in the web role's log")
	}

	// invite revoke withdraws it: the link opens nothing any more.
	revoke := command(t.Context(), append(env, "PB_BASE_URL="+base), "invite", "revoke", link, "--by", "ops@vendor.example")
	if out, err := revoke.CombinedOutput(); err != nil || !strings.Contains(string(out), "1 invitation(s) withdrawn") {
		t.Fatalf("invite revoke: %v\n%s", err, out)
	}
	resp, err = (&http.Client{Jar: jar}).Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone {
		t.Errorf("a revoked link answers %d, want 410", resp.StatusCode)
	}
}

func TestInviteCreateRefusesATTLOverSevenDays(t *testing.T) {
	cmd := command(t.Context(), []string{"PB_ENV=development"}, "invite", "create", "--name", "Contoso", "--ttl", "169h")
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), "at most 168h0m0s (7 days)") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestInviteCreateNeedsAName(t *testing.T) {
	cmd := command(t.Context(), []string{"PB_ENV=development"}, "invite", "create")
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), "--name is required") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}
