//go:build faults

package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/seal"
	"presencebridge/internal/store"
)

// (l) The seal key is rotated while Graph's traffic goes on, as
// docs/operations.md#seal-key-rotation tells an operator: `keys generate`,
// the key appended to PB_SEAL_KEYS and every process restarted, one at a
// time (web, then each worker); `keys rotate`; the old key removed and the
// processes restarted again, once rotate says nothing needs it. Nothing
// acknowledged is lost; every webhook verifies; after the rotation every
// monitor's sealed tokens and the endpoint's signing secret open under the
// new key alone; a Copy URL made under the old key still opens while it
// is in the ring; and rotate says the old key may go only once no live
// link needs it.
func TestSealKeyRotatedDuringTrafficLosesNothing(t *testing.T) {
	s := sized()
	w := Start(t, Options{Users: s.users, Split: true, Workers: 2})
	ctx := context.Background()
	st, pool, err := w.openStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ms, err := st.Monitors(ctx, w.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	// A Copy URL handed out under the old key, before the rotation.
	old, err := w.onboarding(st, sealRing())
	if err != nil {
		t.Fatal(err)
	}
	link, _, err := old.IssueMonitorLink(ctx, w.Tenant, ms[len(ms)-1].ID, actor)
	if err != nil {
		t.Fatal(err)
	}
	token := link[strings.LastIndex(link, "/")+1:]
	tr := w.Drive(s.rate)
	gap := s.load / 4

	// 1. A new key.
	time.Sleep(s.load / 2)
	newKey := strings.TrimSpace(w.keys(t, sealKey, "generate", "--id", "k2"))
	if !strings.HasPrefix(newKey, "k2:") {
		t.Fatalf("keys generate printed %q", newKey)
	}
	both := sealKey + "," + newKey
	// 2. Appended, k1 still active; every process restarted one by one.
	w.restartEach(t, []string{"PB_SEAL_KEYS=" + both, "PB_SEAL_ACTIVE_KEY=k1"}, gap, nil)
	// 3. k2 active (the last listed); every process restarted again.
	// Between the web role's restart and the workers', the platform
	// rotates its endpoint's signing secret through the API: the web role
	// seals the new one under k2, which the workers can open (round 2)
	// though they do not seal with it yet.
	w.restartEach(t, []string{"PB_SEAL_KEYS=" + both, "PB_SEAL_ACTIVE_KEY="}, gap, func() {
		w.rotateSigningSecret(t)
		time.Sleep(s.load / 2) // webhooks go out meanwhile
	})
	// 4. Every secret re-sealed under it.
	report := w.keys(t, both, "rotate")
	t.Logf("keys rotate:\n%s", report)
	byKey, err := st.SecretsByKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(byKey) != 1 || byKey["k2"] == 0 {
		t.Errorf("secrets by key after rotate: %v, want every one under k2", byKey)
	}
	// The old key's live links keep it in the ring, and still open.
	if !strings.Contains(report, "keep k1 in the ring until") {
		t.Errorf("rotate did not say to keep k1 for the live links made under it:\n%s", report)
	}
	ringBoth := ring(t, both, "k2")
	now, err := w.onboarding(store.New(pool, ringBoth), ringBoth)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := now.OpenMonitorLink(ctx, token); err != nil {
		t.Errorf("the Copy URL made under k1 does not open after the rotation: %v", err)
	}
	// The links are withdrawn (the invitation, the Copy URL), as the
	// console and the portal do; rotate then lets the old key go.
	if _, err := now.RevokeInvite(ctx, w.Tenant.String(), actor); err != nil {
		t.Fatal(err)
	}
	if err := now.RetryMonitor(ctx, w.Tenant, ms[len(ms)-1].ID, actor); err != nil {
		t.Fatal(err)
	}
	report = w.keys(t, both, "rotate")
	t.Logf("keys rotate, the links withdrawn:\n%s", report)
	if !strings.Contains(report, "no secret or live link uses any other key") {
		t.Errorf("rotate does not let k1 go once nothing uses it:\n%s", report)
	}
	// 5. The old key removed, every process restarted again.
	w.restartEach(t, []string{"PB_SEAL_KEYS=" + newKey, "PB_SEAL_ACTIVE_KEY="}, gap, nil)
	removed := time.Now()
	time.Sleep(s.load / 2)
	t.Logf("%d presence changes", tr.Stop())
	l := w.Settle(60 * time.Second)
	w.Check(l, Expect{Overtaken: true})
	// A key rotation is no outage of the platform: no webhook failed, so
	// none was replaced by a newer state of its user.
	if l.Superseded > 0 {
		t.Errorf("%d deliveries superseded: webhooks failed during the rotation\n%s", l.Superseded, w.Logs())
	}

	after := 0
	for _, a := range w.Receiver.Arrivals() {
		if a.At.After(removed) && a.Verified {
			after++
		}
	}
	t.Logf("webhooks verified after k1 left the ring: %d", after)
	if after == 0 {
		t.Error("no webhook verified after k1 left the ring: the signing secret was not used under k2")
	}
	w.secretsOpenUnder(t, pool, ring(t, newKey, "k2"))
}

// keys runs `presencebridge keys args…` as an operator would, against the
// world's database with the seal keys keys, and returns what it printed.
func (w *World) keys(t *testing.T, keys string, args ...string) string {
	t.Helper()
	cmd := exec.Command(w.Bin.Product, append([]string{"keys"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PB_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PB_ENV=development", "PB_SEAL_KEYS="+keys, "PB_DATABASE_URL="+w.PG.DirectDSN(), "PB_DATA_DIR="+w.dir,
		"PB_LOG_FORMAT=json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("presencebridge keys %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// restartEach restarts the web role and then each worker, one at a time
// (SIGTERM, then started again with env), gap apart, while the others
// run: a rolling deploy. afterWeb runs once the web role is back.
func (w *World) restartEach(t *testing.T, env []string, gap time.Duration, afterWeb func()) {
	t.Helper()
	w.Opts.Env = append(w.Opts.Env, env...) // the last one of a name wins
	roles := []string{"web"}
	for i := range w.Opts.Workers {
		roles = append(roles, fmt.Sprintf("worker-%d", i+1))
	}
	for _, role := range roles {
		p := w.Proc(role)
		if err := p.Stop(30 * time.Second); err != nil {
			t.Errorf("restart: %v", err)
		}
		for msg, n := range troubles(p) {
			t.Logf("%s before its restart: %d× %s", role, n, msg)
		}
		w.StartRole(role)
		t.Logf("%s restarted with %s", role, strings.Join(redacted(env), " "))
		if role == "web" && afterWeb != nil {
			afterWeb()
		}
		time.Sleep(gap)
	}
}

// rotateSigningSecret rotates the receiver's endpoint's signing secret
// through the API, as the platform would, with the default overlap: the
// receiver verifies with the new one from now on (each webhook carries a
// signature of each secret meanwhile).
func (w *World) rotateSigningSecret(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	ep, err := w.ReceiverEndpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Secret string `json:"secret"`
	}
	if _, err := w.API(ctx, http.MethodPost, "/endpoints/"+ep.ID+"/rotate-secret", map[string]any{}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.Secret, "whsec_") {
		t.Fatalf("rotate-secret answered no secret: %+v", out)
	}
	w.Receiver.SetSecret(out.Secret)
	t.Log("the endpoint's signing secret rotated through the API; the receiver verifies with the new one")
}

// redacted is env with the seal keys' secrets left out.
func redacted(env []string) []string {
	var out []string
	for _, kv := range env {
		name, val, _ := strings.Cut(kv, "=")
		if name == "PB_SEAL_KEYS" {
			var ids []string
			for _, k := range strings.Split(val, ",") {
				id, _, _ := strings.Cut(k, ":")
				ids = append(ids, id)
			}
			val = strings.Join(ids, ",")
		}
		out = append(out, name+"="+val)
	}
	return out
}

// troubles counts p's warnings and errors by message and error.
func troubles(p *Process) map[string]int {
	out := map[string]int{}
	for _, line := range strings.Split(p.Log(), "\n") {
		var rec struct{ Level, Msg, Err string }
		if json.Unmarshal([]byte(line), &rec) == nil && (rec.Level == "WARN" || rec.Level == "ERROR") {
			out[rec.Msg+": "+rec.Err]++
		}
	}
	return out
}

// ring is the seal ring of keys, active sealing.
func ring(t *testing.T, keys, active string) *seal.Ring {
	t.Helper()
	ks, err := seal.ParseKeys(keys)
	if err != nil {
		t.Fatal(err)
	}
	r, err := seal.NewRing(ks, active)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// secretsOpenUnder fails t unless every monitor's refresh and access
// tokens, and the receiver's endpoint signing secret (the one the receiver
// verifies with), open with r alone.
func (w *World) secretsOpenUnder(t *testing.T, pool *pgxpool.Pool, r *seal.Ring) {
	t.Helper()
	ctx := context.Background()
	st := store.New(pool, r)
	ms, err := st.Monitors(ctx, w.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	opened := 0
	for _, m := range ms {
		err := st.InTx(ctx, func(tx store.Tx) error {
			row, err := tx.LockMonitorTokens(ctx, w.Tenant, m.ID)
			if err != nil {
				return err
			}
			for _, s := range []struct {
				id      *uuid.UUID
				purpose string
			}{{row.RefreshTokenID, store.PurposeRefreshToken}, {row.AccessTokenID, store.PurposeAccessToken}} {
				if s.id == nil {
					return errors.New("no " + s.purpose)
				}
				if _, err := tx.OpenSecret(ctx, &w.Tenant, *s.id, s.purpose); err != nil {
					return err
				}
				opened++
			}
			return nil
		})
		if err != nil {
			t.Errorf("monitor %s's tokens under the new key alone: %v", m.UPN, err)
		}
	}
	svc, err := w.onboarding(st, r)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := svc.SigningSecret(ctx, w.Tenant, w.Receiver.URL, actor)
	if err != nil {
		t.Errorf("the endpoint's signing secret under the new key alone: %v", err)
	}
	w.Receiver.mu.Lock()
	same := secret == w.Receiver.secret
	w.Receiver.mu.Unlock()
	if !same {
		t.Error("the endpoint's signing secret opened under the new key is not the one the receiver verifies with")
	}
	t.Logf("opened under the new key alone: %d monitor tokens, the endpoint's signing secret", opened)
}
