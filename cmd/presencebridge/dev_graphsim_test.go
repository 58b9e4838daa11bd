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
	"presencebridge/internal/testkit/freeport"
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

// dev runs graphsim with the fixed seed's two tenants: the first
// consented by dev's demo, the second not (the printed invitation's), whose
// sign-ins are printed; its control API answers, and the product's
// onboarding callbacks are registered on the app.
func TestDevRunsGraphsimWithTheDemoTenantAndAnotherToInvite(t *testing.T) {
	p := startProcess(t, []string{"PB_DATA_DIR=" + devDataDir(t)}, "dev")
	base := p.waitReady(t, 30*time.Second)
	if first := p.firstStdoutLine(5 * time.Second); first != "Presence Bridge  "+base {
		t.Errorf("dev's first output line = %q, want the product URL %s", first, base)
	}
	if p.stdoutLine("Press Ctrl-C", 60*time.Second) == "" {
		t.Fatalf("dev did not finish preparing; output:\n%s", p.log())
	}
	line := p.stdoutLine("graphsim ", time.Second)
	fields := strings.Fields(line)
	if len(fields) < 2 {
		t.Fatalf("dev printed no graphsim line; stdout:\n%s", p.stdoutText())
	}
	gs := fields[1]
	if u, err := url.Parse(gs); err != nil || u.Scheme != "http" || u.Host == "" {
		t.Fatalf("graphsim line %q does not give its URL", line)
	}

	// The directory is the fixed seed's, so its sign-ins never change.
	want := graphsim.GenerateSeed(devGraphsimTenants, devGraphsimUsers, devGraphsimMonitors, devGraphsimSeed)
	demo, invited := want.Tenants[0], want.Tenants[1]
	out := p.stdoutText()
	for _, s := range []string{gs + "/_sim/", demo.Domain, invited.Domain, invited.Admin.UPN + "  " + invited.Admin.Password,
		invited.Monitors[0].UPN + "  " + invited.Monitors[0].Password, invited.Monitors[1].UPN + "  " + invited.Monitors[1].Password} {
		if !strings.Contains(out, s) {
			t.Errorf("dev's output does not show %q:\n%s", s, out)
		}
	}
	if !strings.HasPrefix(out, "Presence Bridge  "+base+"\n") {
		t.Errorf("graphsim's lines come before the product's URL:\n%s", out)
	}

	var doc struct{ Issuer string }
	if code := devGetJSON(t, gs+"/"+invited.Domain+"/v2.0/.well-known/openid-configuration", &doc); code != http.StatusOK {
		t.Fatalf("graphsim discovery for %s: status %d", invited.Domain, code)
	}
	if !strings.Contains(doc.Issuer, invited.ID.String()) {
		t.Errorf("issuer %q does not name the tenant %s", doc.Issuer, invited.ID)
	}
	for _, c := range []struct {
		tenant   graphsim.SeedTenant
		consents int
	}{{demo, 1}, {invited, 0}} {
		var state struct {
			Consents []json.RawMessage
			Users    []json.RawMessage
		}
		if code := devGetJSON(t, gs+"/_sim/tenants/"+c.tenant.ID.String(), &state); code != http.StatusOK {
			t.Fatalf("control API: status %d", code)
		}
		if len(state.Consents) != c.consents {
			t.Errorf("%s has %d consents, want %d", c.tenant.Domain, len(state.Consents), c.consents)
		}
		if n := devGraphsimUsers + devGraphsimMonitors + 1; len(state.Users) != n {
			t.Errorf("%s has %d accounts, want %d (users, monitors, admin)", c.tenant.Domain, len(state.Users), n)
		}
	}

	// The onboarding callbacks are registered: the sign-in page is shown
	// rather than Entra's "redirect URI does not match" error.
	for _, cb := range []string{"/onboarding/consent/callback", "/onboarding/monitors/callback"} {
		q := url.Values{"client_id": {want.App.ClientID}, "response_type": {"code"}, "scope": {"openid offline_access"},
			"redirect_uri": {base + cb}, "state": {"s"}}
		resp, err := http.Get(gs + "/" + invited.Domain + "/oauth2/v2.0/authorize?" + q.Encode())
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

// dev with PB_STAFF_OIDC_TENANT set to one of graphsim's tenants, and no
// registration of our own (graphsim's is dev's): the console's sign-in
// offers Microsoft, which leads to graphsim's sign-in page for that
// tenant with the console's callback accepted as a redirect URI.
func TestDevOffersStaffSingleSignOnAtAGraphsimTenant(t *testing.T) {
	devStaffSignOn(t, "")
}

// With PB_ADMIN_ADDR the console is served on the admin listener alone,
// so the sign-in comes back there (PB_BASE_URL/console answers 404).
func TestDevOffersStaffSingleSignOnOnItsAdminListener(t *testing.T) {
	admin, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	devStaffSignOn(t, admin)
}

// devStaffSignOn starts dev (with an admin listener at admin unless
// empty) and follows "Sign in with Microsoft" to graphsim's sign-in page.
func devStaffSignOn(t *testing.T, admin string) {
	want := graphsim.GenerateSeed(devGraphsimTenants, devGraphsimUsers, devGraphsimMonitors, devGraphsimSeed)
	vendor := want.Tenants[1]
	env := []string{"PB_DATA_DIR=" + devDataDir(t), "PB_STAFF_OIDC_TENANT=" + vendor.Domain}
	if admin != "" {
		env = append(env, "PB_ADMIN_ADDR="+admin)
	}
	p := startProcess(t, env, "dev")
	public := p.waitReady(t, 30*time.Second)
	if p.stdoutLine("Press Ctrl-C", 60*time.Second) == "" {
		t.Fatalf("dev did not finish preparing; output:\n%s", p.log())
	}
	base := public
	if admin != "" {
		base = "http://" + admin
		resp, err := http.Get(public + "/console/signin")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("the public listener answers the console's sign-in with %d, want 404", resp.StatusCode)
		}
	}
	if page := httpGet(t, base+"/console/signin"); !strings.Contains(page, `id="sign-in-microsoft"`) {
		t.Fatalf("the sign-in page offers no Microsoft sign-in:\n%s", page)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(base + "/console/signin/microsoft")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	gs := strings.Fields(p.stdoutLine("graphsim ", time.Second))
	if loc == nil || len(gs) < 2 || loc.Scheme+"://"+loc.Host != gs[1] || loc.Path != "/"+vendor.Domain+"/oauth2/v2.0/authorize" ||
		loc.Query().Get("redirect_uri") != base+"/console/callback" {
		t.Fatalf("Sign in with Microsoft leads to %q (graphsim at %v)", resp.Header.Get("Location"), gs)
	}
	resp, err = http.Get(loc.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("graphsim answers the console's sign-in with %d, want its sign-in page", resp.StatusCode)
	}
}
