package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/testkit/freeport"
)

// The tests run the real binary, as a developer or docker-compose would.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "graphsim-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "graphsim")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build graphsim: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// running is a started graphsim with its stdout read line by line.
type running struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *strings.Builder
}

// start runs graphsim on a free port and returns once it printed its URL.
func start(t *testing.T, args ...string) (*running, string) {
	t.Helper()
	r := &running{cmd: exec.Command(binary, append([]string{"--addr", "127.0.0.1:0"}, args...)...),
		lines: make(chan string, 1000), stderr: &strings.Builder{}}
	r.cmd.Stderr = r.stderr
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
	}()
	t.Cleanup(func() { r.cmd.Process.Kill(); r.cmd.Wait() })
	first := r.next(t)
	u, err := url.Parse(first)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.Path != "" {
		t.Fatalf("first stdout line %q is not a base URL; stderr:\n%s", first, r.stderr)
	}
	return r, first
}

// stop sends SIGTERM and waits for a clean exit.
func stop(t *testing.T, r *running) {
	t.Helper()
	r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, r.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10s of SIGTERM")
	}
}

func (r *running) next(t *testing.T) string {
	t.Helper()
	select {
	case line, ok := <-r.lines:
		if !ok {
			r.cmd.Wait()
			t.Fatalf("stdout ended early; stderr:\n%s", r.stderr)
		}
		return line
	case <-time.After(15 * time.Second):
		t.Fatalf("no stdout line within 15s; stderr:\n%s", r.stderr)
	}
	return ""
}

// rest reads stdout up to the closing line of the summary.
func (r *running) rest(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for {
		line := r.next(t)
		b.WriteString(line + "\n")
		if line == "Press Ctrl-C to stop." {
			return b.String()
		}
	}
}

func getJSON(t *testing.T, u string, v any) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
	}
	return resp.StatusCode
}

type discovery struct {
	Issuer        string `json:"issuer"`
	TokenEndpoint string `json:"token_endpoint"`
}

func TestFirstLineIsBaseURLServingTheSeededTenantsDiscovery(t *testing.T) {
	r, base := start(t, "--users-per-tenant", "3")
	summary := r.rest(t)
	seed := graphsim.GenerateSeed(1, 3, 2, defaultSeed)
	tenant := seed.Tenants[0]
	for _, want := range []string{seed.App.ClientID, seed.App.ClientSecret, tenant.Domain, tenant.ID.String(),
		tenant.Admin.UPN, tenant.Admin.Password, tenant.Monitors[1].UPN, tenant.Monitors[1].Password, base + "/_sim/"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary does not show %q:\n%s", want, summary)
		}
	}
	var doc discovery
	if code := getJSON(t, base+"/"+tenant.Domain+"/v2.0/.well-known/openid-configuration", &doc); code != http.StatusOK {
		t.Fatalf("discovery for %s: status %d", tenant.Domain, code)
	}
	if want := base + "/" + tenant.ID.String() + "/v2.0"; doc.Issuer != want {
		t.Errorf("issuer %q, want %q", doc.Issuer, want)
	}

	stop(t, r) // SIGTERM stops it cleanly
}

func TestSameSeedGivesSameDirectory(t *testing.T) {
	a := printedSeed(t, "--seed", "7")
	b := printedSeed(t, "--seed", "7")
	c := printedSeed(t, "--seed", "8")
	if a.Tenants[0].ID != b.Tenants[0].ID || a.Tenants[0].Admin.Password != b.Tenants[0].Admin.Password {
		t.Error("two runs with --seed 7 created different directories")
	}
	if a.Tenants[0].ID == c.Tenants[0].ID {
		t.Error("--seed 7 and --seed 8 created the same tenant id")
	}
}

// printedSeed runs graphsim with --print-seed and decodes what it printed.
func printedSeed(t *testing.T, args ...string) graphsim.Seed {
	t.Helper()
	r, _ := start(t, append(args, "--print-seed")...)
	var text strings.Builder
	for {
		line := r.next(t)
		text.WriteString(line + "\n")
		if line == "}" {
			break
		}
	}
	var seed graphsim.Seed
	if err := json.Unmarshal([]byte(text.String()), &seed); err != nil {
		t.Fatalf("--print-seed output is not a seed: %v\n%s", err, text.String())
	}
	return seed
}

func TestPrintSeedListsEveryAccount(t *testing.T) {
	seed := printedSeed(t, "--seed-tenants", "2", "--users-per-tenant", "30", "--monitors-per-tenant", "3", "--redirect-uri", "http://localhost:8080/cb")
	if len(seed.Tenants) != 2 || len(seed.Tenants[1].Users) != 30 || len(seed.Tenants[1].Monitors) != 3 {
		t.Fatalf("printed seed has %d tenants, want 2 with 30 users and 3 monitors", len(seed.Tenants))
	}
	if seed.Tenants[0].Users[29].Password == "" {
		t.Error("printed seed lacks passwords")
	}
	if got := seed.App.RedirectURIs; len(got) != 1 || got[0] != "http://localhost:8080/cb" {
		t.Errorf("redirect URIs %v, want the one given", got)
	}
}

const customSeed = `{
  "app": {"clientId": "11111111-2222-4333-8444-555555555555", "clientSecret": "s3cret", "redirectUris": ["http://localhost:9999/cb"]},
  "tenants": [{
    "id": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "domain": "fabrikam.example", "name": "Fabrikam", "consented": false,
    "admin": {"id": "aaaaaaaa-bbbb-4ccc-8ddd-000000000001", "upn": "boss@fabrikam.example", "password": "Boss-1"},
    "users": [{"id": "aaaaaaaa-bbbb-4ccc-8ddd-000000000002", "upn": "ann@fabrikam.example", "displayName": "Ann", "password": "Ann-1"}],
    "monitors": [{"id": "aaaaaaaa-bbbb-4ccc-8ddd-000000000003", "upn": "watch@fabrikam.example", "password": "Watch-1"}]
  }]
}`

func TestSeedFileReplacesTheGeneratedDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "seed.json")
	if err := os.WriteFile(file, []byte(customSeed), 0o600); err != nil {
		t.Fatal(err)
	}
	r, base := start(t, "--seed-file", file)
	summary := r.rest(t)
	for _, want := range []string{"11111111-2222-4333-8444-555555555555", "fabrikam.example", "not consented",
		"boss@fabrikam.example  Boss-1", "watch@fabrikam.example  Watch-1", "http://localhost:9999/cb"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary does not show %q:\n%s", want, summary)
		}
	}
	if strings.Contains(summary, "contoso-1.example") {
		t.Errorf("the generated tenant is still there:\n%s", summary)
	}
	var doc discovery
	if code := getJSON(t, base+"/fabrikam.example/v2.0/.well-known/openid-configuration", &doc); code != http.StatusOK {
		t.Fatalf("discovery for fabrikam.example: status %d", code)
	}
	if !strings.Contains(doc.Issuer, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee") {
		t.Errorf("issuer %q does not name the seed file's tenant id", doc.Issuer)
	}
	if code := getJSON(t, base+"/contoso-1.example/v2.0/.well-known/openid-configuration", nil); code == http.StatusOK {
		t.Error("the generated tenant contoso-1.example answers, want it replaced")
	}
	var tenant map[string]any
	if code := getJSON(t, base+"/_sim/tenants/aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", &tenant); code != http.StatusOK {
		t.Fatalf("control API GET tenant: status %d", code)
	}
}

// fails runs graphsim expecting exit code 1 and one stderr line containing
// every want.
func fails(t *testing.T, args []string, want ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
		t.Fatalf("%v: exit code %d (%v), want 1; stderr:\n%s", args, code, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "graphsim: ") {
		t.Fatalf("%v: stderr = %q, want one line starting graphsim: ", args, stderr.String())
	}
	for _, w := range want {
		if !strings.Contains(lines[0], w) {
			t.Errorf("%v: stderr %q does not contain %q", args, lines[0], w)
		}
	}
	if stdout.Len() > 0 {
		t.Errorf("%v: printed %q on stdout before failing", args, stdout.String())
	}
}

func TestBadSeedFileExitsWithOneClearLine(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, content string
		want          []string
	}{
		{"syntax error", "{\n  \"app\": {},\n  \"tenants\": [}\n}", []string{"line 3, column 15", "invalid character '}'"}},
		{"unknown field", "{\n  \"tenantz\": []\n}", []string{"line 2", `unknown field "tenantz"`}},
		{"wrong type", `{"tenants": [{"domain": 7}]}`, []string{"line 1", "cannot unmarshal number"}},
		{"cut short", `{"tenants": [`, []string{"unexpected EOF"}},
		{"tenant without id", `{"tenants": [{"domain": "x.example"}]}`, []string{"a seed tenant needs an id and a domain"}},
		{"user outside the domain", `{"tenants": [{"id": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "domain": "x.example", "users": [{"upn": "a@y.example", "password": "p"}]}]}`, []string{"a@y.example is not in the tenant's domain"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".json")
			if err := os.WriteFile(file, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			fails(t, []string{"--seed-file", file}, append(c.want, "--seed-file "+file)...)
		})
	}
	t.Run("missing file", func(t *testing.T) {
		fails(t, []string{"--seed-file", filepath.Join(dir, "nope.json")}, "--seed-file", "no such file")
	})
}

func TestAddressInUseExitsWithOneClearLine(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	fails(t, []string{"--addr", busy.Addr().String()}, "--addr "+busy.Addr().String()+" is already in use")
}

func TestBadFlagsExitWithOneClearLine(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--tenants", "2"}, "unknown flag: --tenants"},
		{[]string{"--seed-tenants", "many"}, `invalid argument "many"`},
		{[]string{"--users-per-tenant", "-1"}, "--users-per-tenant must be"},
		{[]string{"--log-format", "xml"}, "--log-format must be text or json"},
		{[]string{"--redirect-uri", "/relative"}, "--redirect-uri must be an absolute"},
		{[]string{"--client-id", "nope"}, "--client-id must be a GUID"},
		{[]string{"extra"}, "unknown command"},
	}
	for _, c := range cases {
		fails(t, c.args, c.want)
	}
}

func TestHelpExplainsEveryFlag(t *testing.T) {
	out, err := exec.Command(binary, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	for _, flag := range []string{"--addr", "--base-url", "--seed-tenants", "--users-per-tenant", "--monitors-per-tenant",
		"--seed ", "--seed-file", "--state", "--redirect-uri", "--client-id", "--client-secret", "--print-seed", "--allow-http-notifications", "--log-format", "/_sim/"} {
		if !strings.Contains(string(out), flag) {
			t.Errorf("--help does not mention %s", flag)
		}
	}
}

func TestBaseURLFlagNamesWhereClientsReachIt(t *testing.T) {
	// A free port for graphsim to take: its URL printed is the
	// --base-url, so the test must know where it listens.
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	r, base := start(t, "--addr", addr, "--base-url", "http://graphsim.test:9090/")
	r.rest(t)
	if base != "http://graphsim.test:9090" {
		t.Fatalf("first line %q, want the --base-url without its slash", base)
	}
	var doc discovery
	if code := getJSON(t, "http://"+addr+"/contoso-1.example/v2.0/.well-known/openid-configuration", &doc); code != http.StatusOK {
		t.Fatalf("discovery: status %d", code)
	}
	if !strings.HasPrefix(doc.TokenEndpoint, "http://graphsim.test:9090/contoso-1.example/") {
		t.Errorf("token endpoint %q is not under --base-url", doc.TokenEndpoint)
	}
}
