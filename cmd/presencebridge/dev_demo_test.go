package main

import (
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/testkit/freeport"
)

// devField is the nth field of the first stdout line starting with prefix.
func (p *process) devField(t *testing.T, prefix string, n int) string {
	t.Helper()
	f := strings.Fields(p.stdoutLine(prefix, time.Second))
	if len(f) <= n {
		t.Fatalf("dev printed no %q line; stdout:\n%s", prefix, p.stdoutText())
	}
	return f[n]
}

// devDemoRun is one run of dev on dataDir and port, once its demo is
// ready: the API key printed, graphsim's URL.
func devDemoRun(t *testing.T, env []string) (p *process, base, key, gs string) {
	t.Helper()
	p = startProcess(t, env, "dev")
	base = p.waitReady(t, 30*time.Second)
	if p.stdoutLine("Press Ctrl-C", 60*time.Second) == "" {
		t.Fatalf("dev did not finish preparing the demo; output:\n%s", p.log())
	}
	return p, base, p.devField(t, "  API key ", 2), p.devField(t, "graphsim ", 1)
}

// apiStatus is the status of GET base+path with the API key.
func apiStatus(t *testing.T, base, path, key string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// joins makes user's Teams show availability/activity, through graphsim's
// control API as dev's output suggests, and waits for dev's receiver to
// print the event, its signature verified.
func joins(t *testing.T, p *process, gs string, user graphsim.SeedUser, availability, activity string) {
	t.Helper()
	body := `{"availability": "` + availability + `", "activity": "` + activity + `"}`
	resp, err := http.Post(gs+"/_sim/users/"+user.ID.String()+"/presence", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("graphsim control API: status %d", resp.StatusCode)
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, line := range strings.Split(p.stdoutText(), "\n") {
			if strings.HasPrefix(line, "event ") && strings.Contains(line, user.UPN) && strings.Contains(line, availability+"/"+activity) {
				if !strings.HasSuffix(line, "signature verified") {
					t.Errorf("dev's receiver printed %q, want the signature verified", line)
				}
				return
			}
		}
	}
	t.Fatalf("dev's receiver printed no event of %s becoming %s/%s; output:\n%s", user.UPN, availability, activity, p.log())
}

// signIns checks that each of ten's monitors signed in want times since
// graphsim started (it counts token calls since).
func signIns(t *testing.T, gs string, ten graphsim.SeedTenant, want int) {
	t.Helper()
	for _, m := range ten.Monitors {
		var calls struct{ Count int }
		if code := devGetJSON(t, gs+"/_sim/token-calls?grant=authorization_code&user="+m.UPN, &calls); code != http.StatusOK || calls.Count != want {
			t.Errorf("%s signed in %d times since graphsim started (status %d), want %d", m.UPN, calls.Count, code, want)
		}
	}
}

// subscriptionIDs lists graphsim's subscriptions, sorted.
func subscriptionIDs(t *testing.T, gs string) []string {
	t.Helper()
	var subs []struct{ ID string }
	if code := devGetJSON(t, gs+"/_sim/subscriptions", &subs); code != http.StatusOK {
		t.Fatalf("GET /_sim/subscriptions: %d", code)
	}
	var ids []string
	for _, s := range subs {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	return ids
}

// `presencebridge dev` prints an API key that works at once, a change made
// in graphsim reaches its webhook receiver, an invitation can be created
// while it runs, the support console's demo admin signs in with the
// password printed; and after a restart on the same data folder the same
// demo tenant still works: graphsim kept its consent, the monitors'
// refresh tokens and the subscriptions, and the key and password printed
// are the ones kept.
func TestDevPreparesADemoTenantCallableAtOnceThatOutlivesARestart(t *testing.T) {
	dataDir := devDataDir(t)
	addr, err := freeport.Addr() // the same port both runs: Graph's subscriptions name the product's URL
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"PB_DATA_DIR=" + dataDir, "PB_HTTP_ADDR=" + addr}
	demo := graphsim.GenerateSeed(devGraphsimTenants, devGraphsimUsers, devGraphsimMonitors, devGraphsimSeed).Tenants[0]
	adele := demo.Users[0]

	p, base, key, gs := devDemoRun(t, env)
	if code := apiStatus(t, base, "/api/v1/api-keys", key); code != http.StatusOK {
		t.Fatalf("GET /api/v1/api-keys with the printed key: %d, want 200", code)
	}
	if !strings.Contains(p.stdoutText(), demo.Domain+"): onboarded, 25 users monitored by 2 monitors") {
		t.Errorf("dev does not say the demo tenant is onboarded:\n%s", p.stdoutText())
	}
	staffPassword := p.devField(t, "  staff sign-in ", 3)
	if status, where := consoleSignIn(t, base, devStaff, staffPassword); status != http.StatusSeeOther || where != "/console/" {
		t.Errorf("the console with the demo admin's printed sign-in: %d to %q", status, where)
	}
	joins(t, p, gs, adele, "Busy", "InACall")
	signIns(t, gs, demo, 1)
	subs := subscriptionIDs(t, gs)
	if len(subs) != len(demo.Monitors) {
		t.Fatalf("graphsim holds subscriptions %v, want one per monitor", subs)
	}

	// The CLI shares dev's embedded database instead of failing on it.
	var stderr strings.Builder
	invite := command(t.Context(), append(env, "PB_ENV=development"), "invite", "create", "--name", "Fabrikam")
	invite.Stderr = &stderr
	out, err := invite.Output()
	if err != nil || !strings.HasPrefix(string(out), base+"/onboarding/i/") {
		t.Fatalf("invite create while dev runs: %v\n%s%s", err, out, stderr.String())
	}
	webhook := p.devField(t, "  webhook ", 1)
	p.stopWith(t, syscall.SIGINT)
	// The receiver's port is taken by something else this time: the demo's
	// endpoint must follow the receiver to its new port.
	u, err := url.Parse(webhook)
	if err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", u.Host)
	if err != nil {
		t.Fatalf("take the receiver's port %s: %v", u.Host, err)
	}
	defer taken.Close()
	for _, f := range []string{devGraphsimFile, devDemoFile} {
		if fi, err := os.Stat(filepath.Join(dataDir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, want a file of mode 0600", f, err)
		}
	}

	p, base, key2, gs := devDemoRun(t, env)
	if moved := p.devField(t, "  webhook ", 1); moved == webhook {
		t.Fatalf("the receiver printed %s again although its port was taken", webhook)
	}
	if key2 != key {
		t.Errorf("the second run printed the key %s, want the one kept, %s", key2, key)
	}
	if again := p.devField(t, "  staff sign-in ", 3); again != staffPassword {
		t.Errorf("the second run printed the demo admin's password %s, want the one kept", again)
	}
	if status, _ := consoleSignIn(t, base, devStaff, staffPassword); status != http.StatusSeeOther {
		t.Errorf("the console with the demo admin's password after the restart: %d", status)
	}
	if code := apiStatus(t, base, "/api/v1/api-keys", key); code != http.StatusOK {
		t.Fatalf("GET /api/v1/api-keys after the restart: %d, want 200", code)
	}
	if !strings.Contains(p.stdoutText(), demo.Domain+"): onboarded, 25 users monitored by 2 monitors") {
		t.Errorf("after the restart, dev does not say the demo tenant is onboarded:\n%s", p.stdoutText())
	}
	// Nobody signed in again: the monitors' refresh tokens from before the
	// restart still work.
	signIns(t, gs, demo, 0)
	if after := subscriptionIDs(t, gs); strings.Join(after, ",") != strings.Join(subs, ",") {
		t.Errorf("graphsim's subscriptions after the restart are %v, want those made before, %v", after, subs)
	}
	joins(t, p, gs, adele, "DoNotDisturb", "Presenting")
}
