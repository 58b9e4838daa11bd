package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"presencebridge/internal/graphsim"
)

// stdoutLine waits up to d for a line on stdout starting with prefix.
func (p *process) stdoutLine(prefix string, d time.Duration) string {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		p.mu.Lock()
		for _, line := range p.stdout {
			if strings.HasPrefix(line, prefix) {
				p.mu.Unlock()
				return line
			}
		}
		p.mu.Unlock()
	}
	return ""
}

func (p *process) stdoutText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.stdout, "\n")
}

func devDataDir(t *testing.T) string {
	t.Helper()
	parent, err := os.MkdirTemp("", "pb-dev-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	os.Chmod(parent, 0o711) // the embedded server may run as another user
	return filepath.Join(parent, "data")
}

func TestDevRunsGraphsimWithAnUnconsentedDemoTenant(t *testing.T) {
	p := startProcess(t, []string{"PB_DATA_DIR=" + devDataDir(t)}, "dev")
	base := p.waitReady(t, 30*time.Second)
	if first := p.firstStdoutLine(5 * time.Second); first != "Presence Bridge  "+base {
		t.Errorf("dev's first output line = %q, want the product URL %s", first, base)
	}
	line := p.stdoutLine("graphsim ", 5*time.Second)
	fields := strings.Fields(line)
	if len(fields) < 2 {
		t.Fatalf("dev printed no graphsim line; stdout:\n%s", p.stdoutText())
	}
	gs := fields[1]
	if u, err := url.Parse(gs); err != nil || u.Scheme != "http" || u.Host == "" {
		t.Fatalf("graphsim line %q does not give its URL", line)
	}

	// The demo directory is the fixed seed's, so its sign-ins never change.
	want := graphsim.GenerateSeed(1, devGraphsimUsers, devGraphsimMonitors, devGraphsimSeed)
	tenant := want.Tenants[0]
	out := p.stdoutText()
	for _, s := range []string{gs + "/_sim/", tenant.Domain, tenant.Admin.UPN + "  " + tenant.Admin.Password,
		tenant.Monitors[0].UPN + "  " + tenant.Monitors[0].Password, tenant.Monitors[1].UPN + "  " + tenant.Monitors[1].Password} {
		if !strings.Contains(out, s) {
			t.Errorf("dev's output does not show %q:\n%s", s, out)
		}
	}
	if !strings.HasPrefix(out, "Presence Bridge  "+base+"\n") {
		t.Errorf("graphsim's lines come before the product's URL:\n%s", out)
	}

	var doc struct{ Issuer string }
	if code := devGetJSON(t, gs+"/"+tenant.Domain+"/v2.0/.well-known/openid-configuration", &doc); code != http.StatusOK {
		t.Fatalf("graphsim discovery for %s: status %d", tenant.Domain, code)
	}
	if !strings.Contains(doc.Issuer, tenant.ID.String()) {
		t.Errorf("issuer %q does not name the demo tenant %s", doc.Issuer, tenant.ID)
	}

	var state struct {
		Consents []json.RawMessage
		Users    []json.RawMessage
	}
	if code := devGetJSON(t, gs+"/_sim/tenants/"+tenant.ID.String(), &state); code != http.StatusOK {
		t.Fatalf("control API: status %d", code)
	}
	if len(state.Consents) != 0 {
		t.Errorf("demo tenant has %d consents, want none before onboarding", len(state.Consents))
	}
	if n := devGraphsimUsers + devGraphsimMonitors + 1; len(state.Users) != n {
		t.Errorf("demo tenant has %d accounts, want %d (users, monitors, admin)", len(state.Users), n)
	}

	// The onboarding callbacks are registered: the sign-in page is shown
	// rather than Entra's "redirect URI does not match" error.
	for _, cb := range []string{"/onboarding/consent/callback", "/onboarding/monitors/callback"} {
		q := url.Values{"client_id": {want.App.ClientID}, "response_type": {"code"}, "scope": {"openid offline_access"},
			"redirect_uri": {base + cb}, "state": {"s"}}
		resp, err := http.Get(gs + "/" + tenant.Domain + "/oauth2/v2.0/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("authorize with redirect_uri %s: status %d, want the sign-in page", base+cb, resp.StatusCode)
		}
	}
}

func TestDevStartsNoGraphsimWhenMicrosoftIsConfigured(t *testing.T) {
	env := []string{"PB_DATA_DIR=" + devDataDir(t), "PB_LOGIN_BASE_URL=http://127.0.0.1:1", "PB_GRAPH_BASE_URL=http://127.0.0.1:1"}
	p := startProcess(t, env, "dev")
	p.waitReady(t, 30*time.Second)
	if line := p.stdoutLine("Press Ctrl-C", 5*time.Second); line == "" {
		t.Fatalf("dev printed no closing line; stdout:\n%s", p.stdoutText())
	}
	if strings.Contains(p.stdoutText(), "graphsim") {
		t.Errorf("dev started graphsim although PB_LOGIN_BASE_URL and PB_GRAPH_BASE_URL are set:\n%s", p.stdoutText())
	}
}

func devGetJSON(t *testing.T, u string, v any) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
	}
	return resp.StatusCode
}
