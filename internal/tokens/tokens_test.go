package tokens

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/identity"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

type fixture struct {
	sim     *graphsim.Sim
	seed    graphsim.Seed
	id      *identity.Client
	pool    *pgxpool.Pool
	st      *store.Store
	tenant  uuid.UUID
	monitor store.Monitor
	creds   Credentials
}

// newFixture has a tenant whose first monitor signed in with its password.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{sim: graphsim.New(graphsim.Options{})}
	srv := httptest.NewServer(f.sim.Handler())
	t.Cleanup(srv.Close)
	f.sim.SetBaseURL(srv.URL)
	f.seed = graphsim.GenerateSeed(1, 2, 2, 5)
	if err := f.sim.Apply(f.seed); err != nil {
		t.Fatal(err)
	}
	var err error
	if f.id, err = identity.New(identity.Options{LoginURL: srv.URL}); err != nil {
		t.Fatal(err)
	}
	f.st, f.tenant = storetest.New(t)
	f.pool = f.st.Pool()
	ctx := context.Background()
	testkit.Exec(t, f.pool, `UPDATE tenants SET ms_tenant_id = $2 WHERE id = $1`, f.tenant, f.seed.Tenants[0].ID)
	app := identity.App{ClientID: f.seed.App.ClientID, ClientSecret: f.seed.App.ClientSecret}
	msTenant := f.seed.Tenants[0].ID.String()
	f.creds = func(context.Context, uuid.UUID) (identity.App, string, error) { return app, msTenant, nil }

	mon := f.seed.Tenants[0].Monitors[0]
	if f.monitor, err = f.st.AddMonitor(ctx, f.tenant, mon.UPN); err != nil {
		t.Fatal(err)
	}
	g := f.signIn(t)
	storetest.RequireNotStored(t, f.pool, g.RefreshToken)
	return f
}

// signIn signs the monitor in with its password, as onboarding does.
func (f *fixture) signIn(t *testing.T) identity.Grant {
	t.Helper()
	ctx := context.Background()
	mon := f.seed.Tenants[0].Monitors[0]
	app, msTenant, _ := f.creds(ctx, f.tenant)
	g, err := f.id.PasswordOnce(ctx, app, msTenant, mon.UPN, mon.Password)
	if err != nil {
		t.Fatal(err)
	}
	err = f.st.AuthorizeMonitor(ctx, f.tenant, f.monitor.ID, store.MonitorGrant{ObjectID: g.Account.ObjectID,
		DisplayName: g.Account.Name, Method: "password", RefreshToken: g.RefreshToken, AccessToken: g.AccessToken, Expiry: g.Expiry})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// expire makes the stored access token due for a refresh.
func (f *fixture) expire(t *testing.T) {
	t.Helper()
	if _, err := f.pool.Exec(context.Background(), `UPDATE monitors SET token_expires_at = now() - interval '1 minute' WHERE id = $1`, f.monitor.ID); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) refreshCalls() int {
	return f.sim.CountTokenCalls(graphsim.TokenCalls{Grant: "refresh_token", User: f.monitor.UPN})
}

func TestFiftyConcurrentCallersCauseOneRefresh(t *testing.T) {
	f := newFixture(t)
	f.expire(t)
	// Two vaults: two instances of the product, each with its own cache,
	// sharing only the database.
	vaults := []*Vault{New(f.st, f.id, f.creds, nil), New(f.st, f.id, f.creds, nil)}
	var wg sync.WaitGroup
	tokens := make([]string, 50)
	errs := make([]error, 50)
	for i := range 50 {
		wg.Go(func() {
			tokens[i], errs[i] = vaults[i%2].MonitorToken(context.Background(), f.tenant, f.monitor.ID)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
		if tokens[i] == "" || tokens[i] != tokens[0] {
			t.Fatalf("caller %d got a different token", i)
		}
	}
	if n := f.refreshCalls(); n != 1 {
		t.Errorf("refresh_token requests = %d, want exactly 1", n)
	}
	// The rotated refresh token was stored: the next refresh works with it.
	f.expire(t)
	v := New(f.st, f.id, f.creds, nil)
	if _, err := v.MonitorToken(context.Background(), f.tenant, f.monitor.ID); err != nil {
		t.Fatalf("refresh with the rotated token: %v", err)
	}
	if n := f.refreshCalls(); n != 2 {
		t.Errorf("refresh_token requests = %d, want 2", n)
	}
	m, _ := f.st.GetMonitor(context.Background(), f.tenant, f.monitor.ID)
	if m.Status != store.MonitorAuthorized || m.TokenExpiresAt == nil || time.Until(*m.TokenExpiresAt) < 30*time.Minute || m.LastError != "" {
		t.Errorf("monitor after refresh = %+v", m)
	}
}

func TestRevokedGrantMarksTheMonitorAndRecordsWhy(t *testing.T) {
	f := newFixture(t)
	f.expire(t)
	f.sim.RevokeUser(f.seed.Tenants[0].Monitors[0].ID)
	v := New(f.st, f.id, f.creds, nil)
	_, err := v.MonitorToken(context.Background(), f.tenant, f.monitor.ID)
	if identity.ClassOf(err) != identity.Reauthorize {
		t.Fatalf("err = %v, want a Reauthorize error", err)
	}
	ctx := context.Background()
	m, _ := f.st.GetMonitor(ctx, f.tenant, f.monitor.ID)
	if m.Status != store.MonitorNeedsReauth || !strings.Contains(m.LastError, "AADSTS50173") || !strings.Contains(m.LastError, "Sign in again") {
		t.Errorf("monitor = %s %q", m.Status, m.LastError)
	}
	if as, _ := f.st.Alerts(ctx, f.tenant); len(as) != 1 || as[0].Kind != store.AlertMonitorNeedsReauth || as[0].ResolvedAt != nil {
		t.Errorf("alerts = %+v", as)
	}
	log, err := f.st.AuditLog(ctx, f.tenant, 10)
	if err != nil || len(log) != 1 || log[0].Action != "monitor.needs_reauth" || log[0].Detail["upn"] != f.monitor.UPN {
		t.Errorf("audit log = %+v, %v", log, err)
	}
	// Later callers get the recorded state without calling Entra again.
	calls := f.refreshCalls()
	_, err = v.MonitorToken(ctx, f.tenant, f.monitor.ID)
	var na *NotAuthorizedError
	if !errors.As(err, &na) || na.Status != store.MonitorNeedsReauth || !strings.Contains(na.Reason, "50173") {
		t.Errorf("after re-auth was needed: %v", err)
	}
	if f.refreshCalls() != calls {
		t.Error("a monitor needing re-authorization was refreshed again")
	}
}

// clock is a settable clock for the vault (graphsim keeps real time: its
// tokens stay valid; only our view of "now" moves).
type clock struct {
	mu sync.Mutex
	at time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.at }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.at = c.at.Add(d)
	c.mu.Unlock()
}

func TestTransientFailuresBackOffAndAreCountedNotFatal(t *testing.T) {
	f := newFixture(t)
	f.expire(t)
	f.sim.AddTokenFault(graphsim.TokenFault{Grant: "refresh_token", Status: 503, Error: "temporarily_unavailable", Times: 1})
	clk := &clock{at: time.Now()}
	v := New(f.st, f.id, f.creds, clk.now)
	ctx := context.Background()
	if _, err := v.MonitorToken(ctx, f.tenant, f.monitor.ID); identity.ClassOf(err) != identity.Transient {
		t.Fatalf("err = %v, want transient", err)
	}
	m, _ := f.st.GetMonitor(ctx, f.tenant, f.monitor.ID)
	if m.Status != store.MonitorAuthorized || m.RefreshFailures != 1 || m.LastError == "" {
		t.Errorf("monitor after a transient failure = %s failures %d %q", m.Status, m.RefreshFailures, m.LastError)
	}
	// At once again: backing off, Entra is not asked.
	calls := f.refreshCalls()
	var bo *BackingOffError
	if _, err := v.MonitorToken(ctx, f.tenant, f.monitor.ID); !errors.As(err, &bo) || !strings.Contains(err.Error(), "backing off") {
		t.Fatalf("retry within the back-off: %v", err)
	}
	if f.refreshCalls() != calls {
		t.Error("refreshed during the back-off")
	}
	clk.advance(61 * time.Second)
	if _, err := v.MonitorToken(ctx, f.tenant, f.monitor.ID); err != nil {
		t.Fatalf("retry after the back-off: %v", err)
	}
	m, _ = f.st.GetMonitor(ctx, f.tenant, f.monitor.ID)
	if m.RefreshFailures != 0 || m.LastError != "" {
		t.Errorf("success did not reset the failure count: %+v", m)
	}
}

func TestTransientFailuresGiveUpAfterFourDaysCountingEachDayOnce(t *testing.T) {
	f := newFixture(t)
	f.sim.AddTokenFault(graphsim.TokenFault{Grant: "refresh_token", Status: 503, Error: "temporarily_unavailable", Times: 1000})
	// Ahead of real time (the stored token expiry is real time), at 01:00 UTC.
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(25 * time.Hour)
	clk := &clock{at: start}
	v := New(f.st, f.id, f.creds, clk.now)
	ctx := context.Background()
	status := func() (string, int) {
		var s string
		var days int
		f.pool.QueryRow(ctx, `SELECT status, failure_days FROM monitors WHERE id = $1`, f.monitor.ID).Scan(&s, &days)
		return s, days
	}
	// Days 1–3 (UTC): many failures a day, each day counted once; still authorized.
	for day := range 3 {
		clk.at = start.Add(time.Duration(day) * 24 * time.Hour)
		for range 5 {
			clk.advance(2 * time.Hour) // past any back-off
			v.Forget(f.tenant, f.monitor.ID)
			f.expire(t)
			if _, err := v.MonitorToken(ctx, f.tenant, f.monitor.ID); err == nil || identity.ClassOf(err) != identity.Transient {
				t.Fatalf("day %d: %v", day+1, err)
			}
		}
		if s, days := status(); s != store.MonitorAuthorized || days != day+1 {
			t.Fatalf("after day %d: status %s, failure days %d", day+1, s, days)
		}
	}
	if as, _ := f.st.Alerts(ctx, f.tenant); len(as) != 0 {
		t.Fatalf("alerts before giving up: %+v", as)
	}
	// The fourth day's first failure gives up: re-authorization, an alert.
	clk.at = start.Add(3*24*time.Hour + time.Hour)
	f.expire(t)
	v.MonitorToken(ctx, f.tenant, f.monitor.ID)
	if s, days := status(); s != store.MonitorNeedsReauth || days != 4 {
		t.Fatalf("after day 4: status %s, failure days %d", s, days)
	}
	as, _ := f.st.Alerts(ctx, f.tenant)
	if len(as) != 1 || as[0].Kind != store.AlertMonitorNeedsReauth || as[0].Subject != f.monitor.ID.String() ||
		!strings.Contains(as[0].Message, "4 days") || as[0].ResolvedAt != nil {
		t.Fatalf("alerts = %+v", as)
	}
}

func TestDailyRefreshExercisesAnIdleMonitorsGrant(t *testing.T) {
	f := newFixture(t)
	clk := &clock{at: time.Now()}
	v := New(f.st, f.id, f.creds, clk.now)
	ctx := context.Background()
	// Signed in just now: nothing to do.
	if err := v.Refresh(ctx, f.tenant, f.monitor.ID); err != nil || f.refreshCalls() != 0 {
		t.Fatalf("refresh right after sign-in: %v, %d calls", err, f.refreshCalls())
	}
	due, _ := f.st.MonitorsDueForRefresh(ctx, f.tenant, clk.now().Add(-DailyRefresh))
	if len(due) != 0 {
		t.Fatalf("due right after sign-in: %v", due)
	}
	clk.advance(21 * time.Hour)
	due, _ = f.st.MonitorsDueForRefresh(ctx, f.tenant, clk.now().Add(-DailyRefresh))
	if len(due) != 1 || due[0] != f.monitor.ID {
		t.Fatalf("due after 21 h: %v", due)
	}
	if err := v.Refresh(ctx, f.tenant, f.monitor.ID); err != nil || f.refreshCalls() != 1 {
		t.Fatalf("daily refresh: %v, %d calls", err, f.refreshCalls())
	}
	// The grant is revoked; the next day's refresh finds out and raises an alert.
	f.sim.RevokeUser(f.seed.Tenants[0].Monitors[0].ID)
	clk.advance(21 * time.Hour)
	if err := v.Refresh(ctx, f.tenant, f.monitor.ID); identity.ClassOf(err) != identity.Reauthorize {
		t.Fatalf("refresh of a revoked grant: %v", err)
	}
	as, _ := f.st.Alerts(ctx, f.tenant)
	if len(as) != 1 || as[0].Kind != store.AlertMonitorNeedsReauth || as[0].ResolvedAt != nil || !strings.Contains(as[0].Message, f.monitor.UPN) {
		t.Fatalf("alerts = %+v", as)
	}
	// Signing in again resolves it.
	f.signIn(t)
	if as, _ := f.st.Alerts(ctx, f.tenant); len(as) != 1 || as[0].ResolvedAt == nil {
		t.Fatalf("alerts after signing in again = %+v", as)
	}
}

func TestAFreshTokenIsServedWithoutRefreshing(t *testing.T) {
	f := newFixture(t)
	v := New(f.st, f.id, f.creds, nil)
	for range 3 {
		if tok, err := v.MonitorToken(context.Background(), f.tenant, f.monitor.ID); err != nil || tok == "" {
			t.Fatalf("MonitorToken: %q %v", tok, err)
		}
	}
	if n := f.refreshCalls(); n != 0 {
		t.Errorf("refreshes = %d, want 0 while the stored token is fresh", n)
	}
	// Another tenant's id never reaches this monitor.
	if _, err := v.MonitorToken(context.Background(), uuid.New(), f.monitor.ID); !errors.Is(err, store.ErrMonitorNotFound) {
		t.Errorf("wrong tenant: %v", err)
	}
}

// The customer deletes our enterprise app: the monitor's refresh fails
// (AADSTS65001), but the grant is the tenant's to restore, not the
// monitor's: it stays authorized, unalerted, backing off, and refreshes
// again once consent is granted again. (Fails when ConsentMissing marks
// the monitor, as it did before tenant-level failures were told apart.)
func TestConsentWithdrawnLeavesTheMonitorAuthorizedForTheTenantToRestore(t *testing.T) {
	f := newFixture(t)
	f.expire(t)
	f.sim.WithdrawConsent(f.seed.Tenants[0].ID, f.seed.App.ClientID)
	clk := &clock{at: time.Now()}
	v := New(f.st, f.id, f.creds, clk.now)
	ctx := context.Background()
	_, err := v.MonitorToken(ctx, f.tenant, f.monitor.ID)
	if p, ok := identity.TenantProblemOf(err); !ok || p != identity.ConsentWithdrawn {
		t.Fatalf("err = %v, want a tenant-level consent_withdrawn failure", err)
	}
	m, _ := f.st.GetMonitor(ctx, f.tenant, f.monitor.ID)
	if m.Status != store.MonitorAuthorized || !strings.Contains(m.LastError, "AADSTS65001") {
		t.Errorf("monitor after consent withdrawn = %s %q, want authorized with the reason", m.Status, m.LastError)
	}
	if as, _ := f.st.Alerts(ctx, f.tenant); len(as) != 0 {
		t.Errorf("monitor alerts for a tenant-level failure: %+v", as)
	}
	f.sim.RestoreConsent(f.seed.Tenants[0].ID, f.seed.App.ClientID)
	clk.advance(61 * time.Second)
	if _, err := v.MonitorToken(ctx, f.tenant, f.monitor.ID); err != nil {
		t.Fatalf("refresh once consent is restored: %v", err)
	}
}
