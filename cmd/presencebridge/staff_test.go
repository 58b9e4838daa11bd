package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/testkit"
	"presencebridge/internal/testkit/freeport"
)

// runStaff runs `presencebridge staff args…` with stdin and returns its
// standard output, or its standard error when code is not 0, failing the
// test unless it exits with code.
func runStaff(t *testing.T, env []string, stdin string, code int, args ...string) string {
	t.Helper()
	cmd := command(t.Context(), env, append([]string{"staff"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if got := cmd.ProcessState.ExitCode(); got != code {
		t.Fatalf("staff %s: exit %d (%v), want %d\n%s%s", strings.Join(args, " "), got, err, code, out, stderr.String())
	}
	if code != 0 {
		return stderr.String()
	}
	return string(out)
}

// TestStaffAccountsMadeWithTheCommandSignInToTheConsoleOnTheAdminListener:
// add (a generated password printed once, or one from standard input),
// list and disable, audited with --by; with PB_ADMIN_ADDR the console and
// /metrics answer there and are not found on the public listener.
func TestStaffAccountsMadeWithTheCommandSignInToTheConsoleOnTheAdminListener(t *testing.T) {
	dsn := testkit.NewDatabase(t)
	env := []string{"PB_ENV=development", "PB_DATABASE_URL=" + dsn, testKey}
	out := runStaff(t, env, "", 0, "add", "--email", "ops@vendor.example", "--name", "Ops", "--role", "support", "--by", "boss@vendor.example")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || len(lines[0]) != 26 || lines[1] != "staff account ops@vendor.example (support) added" {
		t.Fatalf("staff add printed:\n%s", out)
	}
	generated := lines[0]
	out = runStaff(t, env, "a password of my own choosing\n", 0, "add", "--email", "look@vendor.example", "--role", "viewer", "--password-stdin")
	if strings.TrimSpace(out) != "staff account look@vendor.example (viewer) added" {
		t.Fatalf("staff add --password-stdin printed:\n%s", out)
	}
	if out := runStaff(t, env, "", 2, "add", "--email", "x@vendor.example", "--role", "root"); !strings.Contains(out, "--role: unknown role") {
		t.Errorf("an unknown role: %s", out)
	}
	if out := runStaff(t, env, "short\n", 2, "add", "--email", "x@vendor.example", "--role", "viewer", "--password-stdin"); !strings.Contains(out, "at least 12 characters") {
		t.Errorf("a short password: %s", out)
	}

	adminAddr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	web := startProcess(t, append(env, "PB_ADMIN_ADDR="+adminAddr), "web")
	public := web.waitReady(t, 30*time.Second)
	admin := "http://" + adminAddr
	for _, c := range []struct {
		url  string
		want int
	}{
		{public + "/console/", 404}, {public + "/console/signin", 404}, {public + "/metrics", 404}, {public + "/healthz", 200},
		{admin + "/console/", 200}, {admin + "/metrics", 200}, {admin + "/onboarding/i/x", 404},
	} {
		resp, err := http.Get(c.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("GET %s: %d, want %d", c.url, resp.StatusCode, c.want)
		}
	}
	if status, where := consoleSignIn(t, admin, "ops@vendor.example", generated); status != http.StatusSeeOther || where != "/console/" {
		t.Errorf("signing in with the generated password: %d %s", status, where)
	}

	if out := runStaff(t, env, "", 0, "disable", "ops@vendor.example", "--by", "boss@vendor.example"); !strings.Contains(out, "staff account ops@vendor.example disabled") {
		t.Errorf("staff disable printed:\n%s", out)
	}
	if status, _ := consoleSignIn(t, admin, "ops@vendor.example", generated); status != http.StatusUnauthorized {
		t.Errorf("a disabled account signing in: %d, want 401", status)
	}
	list := runStaff(t, env, "", 0, "list")
	if !regexp.MustCompile(`look@vendor.example\s+viewer\s+active\s+no\s+never`).MatchString(list) ||
		!regexp.MustCompile(`ops@vendor.example\s+Ops\s+support\s+disabled\s+no\s+20`).MatchString(list) {
		t.Errorf("staff list:\n%s", list)
	}
	if strings.Contains(web.log(), generated) {
		t.Error("the password is in the web role's log")
	}

	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var actions []string
	rows, _ := pool.Query(t.Context(), `SELECT action FROM audit_log WHERE actor = 'staff:boss@vendor.example' ORDER BY id`)
	for rows.Next() {
		var a string
		rows.Scan(&a)
		actions = append(actions, a)
	}
	if strings.Join(actions, " ") != "staff.added staff.disabled" {
		t.Errorf("audited by boss@vendor.example: %v", actions)
	}
}

// consoleSignIn signs in at the console at base as a browser would and
// returns the answer's status and Location.
func consoleSignIn(t *testing.T, base, email, password string) (int, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/console/signin")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no form token on the sign-in page: %d\n%s", resp.StatusCode, body)
	}
	resp, err = c.PostForm(base+"/console/signin", url.Values{"csrf": {string(m[1])}, "email": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}
