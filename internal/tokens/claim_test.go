package tokens

import (
	"context"
	"sync"
	"testing"
	"time"

	"presencebridge/internal/identity"
	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

// gate is a slow identity platform: each refresh says it arrived, then
// waits to be let through to graphsim.
type gate struct {
	next    Refresher
	arrived chan struct{}
	release chan struct{}
}

func newGate(next Refresher) *gate {
	return &gate{next: next, arrived: make(chan struct{}, 10), release: make(chan struct{})}
}

func (g *gate) Refresh(ctx context.Context, app identity.App, tenant, refreshToken string) (identity.Grant, error) {
	g.arrived <- struct{}{}
	select {
	case <-g.release:
	case <-ctx.Done():
		return identity.Grant{}, ctx.Err()
	}
	return g.next.Refresh(ctx, app, tenant, refreshToken)
}

// await waits for a refresh to reach the identity platform.
func (g *gate) await(t *testing.T) {
	t.Helper()
	select {
	case <-g.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no refresh reached the identity platform")
	}
}

type result struct {
	token string
	err   error
}

func (f *fixture) tokenAsync(v *Vault) <-chan result {
	out := make(chan result, 1)
	go func() {
		tok, err := v.MonitorToken(context.Background(), f.tenant, f.monitor.ID)
		out <- result{tok, err}
	}()
	return out
}

// slowRefresh expires the monitor's access token and asks a vault for one
// through a slow identity platform; it returns once the refresh waits there.
func (f *fixture) slowRefresh(t *testing.T) (*gate, <-chan result) {
	t.Helper()
	f.expire(t)
	slow := newGate(f.id)
	got := f.tokenAsync(New(f.st, slow, f.creds, nil))
	slow.await(t)
	return slow, got
}

// TestARefreshHoldsNoTransactionOrRowLockWhileTheIdentityPlatformAnswers:
// the identity platform may take 30 s to answer (issue 15); meanwhile no
// session of ours is in a transaction and the monitor's row is not locked,
// so the call holds back neither the pool nor anyone writing the row.
func TestARefreshHoldsNoTransactionOrRowLockWhileTheIdentityPlatformAnswers(t *testing.T) {
	f := newFixture(t)
	slow, got := f.slowRefresh(t)
	ctx := context.Background()
	var open []string
	rows, err := f.pool.Query(ctx, `SELECT state || ': ' || query FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		open = append(open, s)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if len(open) != 0 {
		t.Errorf("during the identity platform's call, sessions in a transaction: %q", open)
	}
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM monitors WHERE id = $1 FOR UPDATE NOWAIT`, f.monitor.ID); err != nil {
		t.Errorf("during the identity platform's call the monitor's row is locked: %v", err)
	}
	tx.Rollback(ctx)
	close(slow.release)
	if r := <-got; r.err != nil || r.token == "" {
		t.Fatalf("MonitorToken = %q, %v", r.token, r.err)
	}
	if n := f.refreshCalls(); n != 1 {
		t.Errorf("refresh_token requests = %d, want 1", n)
	}
}

// TestTwoInstancesRefreshingAtOnceRedeemTheTokenOnceAndStoreOne: while one
// instance's refresh waits for the identity platform, another's finds it
// under way and waits for its result instead of redeeming the same refresh
// token; both end with the same access token, and the rotated refresh
// token stored works.
func TestTwoInstancesRefreshingAtOnceRedeemTheTokenOnceAndStoreOne(t *testing.T) {
	f := newFixture(t)
	slow, first := f.slowRefresh(t)
	second := f.tokenAsync(New(f.st, slow, f.creds, nil))
	select {
	case <-slow.arrived:
		t.Error("the second instance redeemed the refresh token while the first was redeeming it")
	case r := <-second:
		t.Fatalf("the second instance returned before the first's refresh finished: %q, %v", r.token, r.err)
	case <-time.After(500 * time.Millisecond):
	}
	close(slow.release)
	a, b := <-first, <-second
	if a.err != nil || b.err != nil || a.token == "" || a.token != b.token {
		t.Fatalf("first %q, %v; second %q, %v: want the same token", a.token, a.err, b.token, b.err)
	}
	if n := f.refreshCalls(); n != 1 {
		t.Errorf("refresh_token requests = %d, want 1", n)
	}
	f.expire(t)
	if _, err := New(f.st, f.id, f.creds, nil).MonitorToken(context.Background(), f.tenant, f.monitor.ID); err != nil {
		t.Fatalf("refresh with the stored rotated token: %v", err)
	}
}

// TestASignInDuringASlowRefreshIsNotHeldUpAndItsTokensWin: a monitor
// signed in again while a refresh of its old grant waits for the identity
// platform is stored at once, and the refresh, answered afterwards, does
// not overwrite it: the vault hands out the new sign-in's token.
func TestASignInDuringASlowRefreshIsNotHeldUpAndItsTokensWin(t *testing.T) {
	f := newFixture(t)
	slow, got := f.slowRefresh(t)
	var g identity.Grant
	var wg sync.WaitGroup
	signedIn := make(chan struct{})
	wg.Go(func() {
		defer close(signedIn)
		g = f.signIn(t)
	})
	select {
	case <-signedIn:
	case <-time.After(5 * time.Second):
		t.Error("the sign-in waited for the refresh's identity-platform call")
	}
	close(slow.release)
	wg.Wait()
	r := <-got
	if r.err != nil || r.token != g.AccessToken {
		t.Fatalf("MonitorToken after the sign-in = %v (the sign-in's: %t); want the sign-in's token", r.err, r.token == g.AccessToken)
	}
	m, err := f.st.GetMonitor(context.Background(), f.tenant, f.monitor.ID)
	if err != nil || m.Status != store.MonitorAuthorized || m.TokenExpiresAt == nil || !m.TokenExpiresAt.Equal(g.Expiry.Truncate(time.Microsecond)) {
		t.Errorf("monitor = %+v, %v; want the sign-in's expiry %v", m, err, g.Expiry)
	}
}

// TestARefreshClaimLeftByADeadInstanceIsWaitedOutThenTaken: an instance
// that claimed a refresh and died leaves a claim that runs out; the next
// caller waits for it to, then refreshes itself.
func TestARefreshClaimLeftByADeadInstanceIsWaitedOutThenTaken(t *testing.T) {
	f := newFixture(t)
	f.expire(t)
	testkit.Exec(t, f.pool, `UPDATE monitors SET refresh_claimed_until = now() + interval '400 milliseconds' WHERE id = $1`, f.monitor.ID)
	start := time.Now()
	tok, err := New(f.st, f.id, f.creds, nil).MonitorToken(context.Background(), f.tenant, f.monitor.ID)
	if err != nil || tok == "" {
		t.Fatalf("MonitorToken = %q, %v", tok, err)
	}
	if waited := time.Since(start); waited < 400*time.Millisecond {
		t.Errorf("refreshed after %v, inside the other instance's claim", waited)
	}
	if n := f.refreshCalls(); n != 1 {
		t.Errorf("refresh_token requests = %d, want 1", n)
	}
	var claimed *time.Time
	f.pool.QueryRow(context.Background(), `SELECT refresh_claimed_until FROM monitors WHERE id = $1`, f.monitor.ID).Scan(&claimed)
	if claimed != nil {
		t.Errorf("the claim outlived its refresh: %v", claimed)
	}
}
