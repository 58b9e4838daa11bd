package main

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/testkit"
)

// TestStaffCommandsChangeRolesStatesLocksTOTPAndPasswordsAndKeepAnAdmin:
// role, enable, unlock, reset-totp and password, each audited with --by;
// the last enabled admin cannot be demoted or disabled (exit 2, in words).
func TestStaffCommandsChangeRolesStatesLocksTOTPAndPasswordsAndKeepAnAdmin(t *testing.T) {
	dsn := testkit.NewDatabase(t)
	env := []string{"PB_ENV=development", "PB_DATABASE_URL=" + dsn, testKey}
	runStaff(t, env, "", 0, "add", "--email", "boss@vendor.example", "--role", "admin")
	runStaff(t, env, "", 0, "add", "--email", "ops@vendor.example", "--role", "support")
	by := []string{"--by", "boss@vendor.example"}
	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	testkit.Exec(t, pool, `UPDATE staff SET locked_until = now() + interval '15 minutes' WHERE email = 'ops@vendor.example'`)

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"role", "ops@vendor.example", "admin"}, "staff account ops@vendor.example is admin"},
		{[]string{"role", "ops@vendor.example", "viewer"}, "staff account ops@vendor.example is viewer"},
		{[]string{"disable", "ops@vendor.example"}, "staff account ops@vendor.example disabled"},
		{[]string{"enable", "ops@vendor.example"}, "staff account ops@vendor.example enabled"},
		{[]string{"unlock", "ops@vendor.example"}, "staff account ops@vendor.example unlocked"},
		{[]string{"reset-totp", "ops@vendor.example"}, "staff account ops@vendor.example has no authenticator app now"},
	} {
		if out := runStaff(t, env, "", 0, append(c.args, by...)...); strings.TrimSpace(out) != c.want {
			t.Errorf("staff %s printed %q, want %q", strings.Join(c.args, " "), out, c.want)
		}
	}
	for _, args := range [][]string{{"role", "boss@vendor.example", "support"}, {"disable", "boss@vendor.example"}} {
		if out := runStaff(t, env, "", 2, args...); !strings.Contains(out, "boss@vendor.example is the only admin left") {
			t.Errorf("staff %s: %s", strings.Join(args, " "), out)
		}
	}
	if out := runStaff(t, env, "", 2, "unlock", "nobody@vendor.example"); !strings.Contains(out, "there is no staff account for nobody@vendor.example") {
		t.Errorf("unlock an unknown address: %s", out)
	}
	if out := runStaff(t, env, "", 2, "role", "ops@vendor.example", "root"); !strings.Contains(out, "unknown role") {
		t.Errorf("an unknown role: %s", out)
	}

	out := runStaff(t, env, "", 0, append([]string{"password", "ops@vendor.example"}, by...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || len(lines[0]) != 26 || lines[1] != "staff account ops@vendor.example has a new password" {
		t.Fatalf("staff password printed:\n%s", out)
	}
	if out := runStaff(t, env, "a password of my own choosing\n", 0, "password", "ops@vendor.example", "--password-stdin"); strings.TrimSpace(out) != "staff account ops@vendor.example has a new password" {
		t.Errorf("staff password --password-stdin printed:\n%s", out)
	}
	// Single sign-on with the vendor's tenant, at our registration.
	sso := []string{"PB_STAFF_OIDC_TENANT=vendor.example", "PB_MS_CLIENT_ID=0b1c5f0e-3d2a-4c8e-9f6a-1e2d3c4b5a69", "PB_MS_CLIENT_SECRET=s"}
	web := startProcess(t, append(env, sso...), "web")
	base := web.waitReady(t, 30*time.Second)
	if p := httpGet(t, base+"/console/signin"); !strings.Contains(p, `id="sign-in-microsoft"`) {
		t.Errorf("the sign-in page offers no Microsoft sign-in with PB_STAFF_OIDC_TENANT:\n%s", p)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(base + "/console/signin/microsoft")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc, _ := url.Parse(resp.Header.Get("Location")); loc == nil || loc.Host != "login.microsoftonline.com" ||
		loc.Path != "/vendor.example/oauth2/v2.0/authorize" || loc.Query().Get("redirect_uri") != base+"/console/callback" ||
		loc.Query().Get("client_id") != "0b1c5f0e-3d2a-4c8e-9f6a-1e2d3c4b5a69" {
		t.Errorf("Sign in with Microsoft leads to %q", resp.Header.Get("Location"))
	}
	if status, _ := consoleSignIn(t, base, "ops@vendor.example", "a password of my own choosing"); status != http.StatusSeeOther {
		t.Errorf("signing in with the password set: %d", status)
	}
	if status, _ := consoleSignIn(t, base, "ops@vendor.example", lines[0]); status != http.StatusUnauthorized {
		t.Errorf("signing in with the password replaced: %d, want 401", status)
	}
	if list := runStaff(t, env, "", 0, "list"); !regexp.MustCompile(`ops@vendor.example\s+viewer\s+active`).MatchString(list) {
		t.Errorf("staff list:\n%s", list)
	}

	rows, _ := pool.Query(t.Context(), `SELECT action FROM audit_log WHERE actor = 'staff:boss@vendor.example' ORDER BY id`)
	actions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	// reset-totp changed nothing: ops had no authenticator app.
	want := "staff.role_changed staff.role_changed staff.disabled staff.enabled staff.unlocked staff.password_set"
	if got := strings.Join(actions, " "); got != want {
		t.Errorf("audited by boss@vendor.example: %s", got)
	}
}

// httpGet is the body of GET u.
func httpGet(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
