package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/config"
	"presencebridge/internal/engine"
	"presencebridge/internal/graphsim"
	"presencebridge/internal/identity"
	"presencebridge/internal/roster"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// healthFixture is one graphsim tenant connected to the product's engine
// as the worker role wires it (newEngineRunner: the app-only token path of
// graphClients included), on a fresh database.
type healthFixture struct {
	t      *testing.T
	sim    *graphsim.Sim
	seed   graphsim.Seed
	ten    graphsim.SeedTenant
	st     *store.Store
	tenant uuid.UUID
	runner *engine.Runner
	base   string // the product's base URL, as the runner was given it
}

// newHealthFixture builds the fixture; change, if any, edits graphsim's
// seed before it is applied.
func newHealthFixture(t *testing.T, change ...func(*graphsim.Seed)) *healthFixture {
	t.Helper()
	ctx := t.Context()
	sim := graphsim.New(graphsim.Options{})
	gs, err := sim.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seed := graphsim.GenerateSeed(1, 5, 1, 7)
	for _, c := range change {
		c(&seed)
	}
	if err := sim.Apply(seed); err != nil {
		t.Fatal(err)
	}
	hook := testkit.NewNotificationReceiver(t)

	f := &healthFixture{t: t, sim: sim, seed: seed, ten: seed.Tenants[0], base: hook.Base}
	pool := testkit.DB(t)
	ring := storetest.Ring(t)
	f.st = store.New(pool, ring)
	f.tenant = storetest.Tenant(t, pool, "Contoso")
	testkit.Exec(t, pool, `UPDATE tenants SET ms_tenant_id = $2, status = 'active' WHERE id = $1`, f.tenant, f.ten.ID)
	for _, u := range f.ten.Users {
		testkit.Exec(t, pool, `INSERT INTO directory_users (tenant_id, upn, object_id, resolution_status) VALUES ($1, $2, $3, 'resolved')`,
			f.tenant, u.UPN, u.ID)
	}
	msApp := identity.App{ClientID: seed.App.ClientID, ClientSecret: seed.App.ClientSecret}
	idc, _ := identity.New(identity.Options{LoginURL: gs})
	acct := f.ten.Monitors[0]
	m, err := f.st.AddMonitor(ctx, f.tenant, acct.UPN)
	if err != nil {
		t.Fatal(err)
	}
	g, err := idc.PasswordOnce(ctx, msApp, f.ten.ID.String(), acct.UPN, acct.Password)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.AuthorizeMonitor(ctx, f.tenant, m.ID, store.MonitorGrant{ObjectID: g.Account.ObjectID, Method: "password",
		RefreshToken: g.RefreshToken, AccessToken: g.AccessToken, Expiry: g.Expiry}); err != nil {
		t.Fatal(err)
	}
	a := &app{cfg: &config.Config{GraphBaseURL: gs, LoginBaseURL: gs, ClientID: seed.App.ClientID,
		ClientSecret: config.Secret(seed.App.ClientSecret)}, store: f.st, pool: pool, ring: ring, logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
	if f.runner, err = newEngineRunner(a, f.base); err != nil {
		t.Fatal(err)
	}
	return f
}

// pass runs one engine pass over the tenant and returns its error.
func (f *healthFixture) pass() error {
	f.t.Helper()
	_, ran, err := f.runner.Tenant(f.t.Context(), f.tenant)
	if !ran {
		f.t.Fatal("the pass did not run (tenant lock held)")
	}
	return err
}

func (f *healthFixture) status() store.TenantStatus {
	f.t.Helper()
	s, err := f.st.TenantStatusOf(f.t.Context(), f.tenant)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// alerts lists the tenant's alerts of kind (open and resolved).
func (f *healthFixture) alerts(kind string) (open, resolved []store.Alert) {
	f.t.Helper()
	all, err := f.st.Alerts(f.t.Context(), f.tenant)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, a := range all {
		switch {
		case a.Kind != kind:
		case a.ResolvedAt == nil:
			open = append(open, a)
		default:
			resolved = append(resolved, a)
		}
	}
	return open, resolved
}

func (f *healthFixture) monitorStatus() string {
	f.t.Helper()
	var s string
	if err := f.st.Pool().QueryRow(f.t.Context(), `SELECT status FROM monitors WHERE tenant_id = $1`, f.tenant).Scan(&s); err != nil {
		f.t.Fatal(err)
	}
	return s
}

// The acceptance: the customer deletes our enterprise app → within
// one engine pass the tenant is degraded with an alert giving the reason
// and the fix, its monitor is not marked for re-authorization; consent
// granted again → the next pass makes it healthy and resolves the alert.
// (Shown to fail without the access check at the start of a pass: the
// cached app-only token hides the withdrawal for up to an hour.)
func TestEngineDegradesATenantWhoseConsentIsWithdrawnAndRecoversWhenRestored(t *testing.T) {
	f := newHealthFixture(t)
	if err := f.pass(); err != nil {
		t.Fatalf("first pass: %v", err)
	}
	if s := f.status(); s.Status != store.TenantActive || s.Users.Monitored != len(f.ten.Users) {
		t.Fatalf("after the first pass: %+v", s)
	}

	if !f.sim.WithdrawConsent(f.ten.ID, f.seed.App.ClientID) {
		t.Fatal("WithdrawConsent")
	}
	err := f.pass()
	var de *engine.DegradedError
	if !errors.As(err, &de) || de.Problem != identity.ConsentWithdrawn {
		t.Fatalf("pass after the withdrawal: %v, want a DegradedError for consent_withdrawn", err)
	}
	s := f.status()
	if s.Status != store.TenantDegraded || s.Lifecycle != store.TenantActive || s.Condition != string(identity.ConsentWithdrawn) ||
		!strings.Contains(s.Reason, "AADSTS7000229") || s.HealthChangedAt == nil {
		t.Fatalf("status after the withdrawal: %+v", s)
	}
	open, _ := f.alerts(store.AlertTenantAccess)
	if len(open) != 1 || open[0].Subject != string(identity.ConsentWithdrawn) {
		t.Fatalf("open access alerts: %+v", open)
	}
	msg := open[0].Message
	for _, want := range []string{"removed from your Microsoft tenant (consent withdrawn)", "Fix: a Global Administrator grants consent again at",
		"/" + f.ten.ID.String() + "/v2.0/adminconsent?client_id=" + f.seed.App.ClientID} {
		if !strings.Contains(msg, want) {
			t.Errorf("alert %q lacks %q", msg, want)
		}
	}
	if m := f.monitorStatus(); m != store.MonitorAuthorized {
		t.Errorf("monitor is %q after a tenant-level failure, want it still authorized", m)
	}

	// Still withdrawn: the same alert, not a second one.
	if err := f.pass(); !errors.As(err, &de) {
		t.Fatalf("second degraded pass: %v", err)
	}
	if open, _ := f.alerts(store.AlertTenantAccess); len(open) != 1 || open[0].ID != f.mustOneOpen().ID {
		t.Fatalf("open access alerts after a second pass: %+v", open)
	}

	if !f.sim.RestoreConsent(f.ten.ID, f.seed.App.ClientID) {
		t.Fatal("RestoreConsent")
	}
	if err := f.pass(); err != nil {
		t.Fatalf("pass after consent restored: %v", err)
	}
	if s := f.status(); s.Status != store.TenantActive || s.Health != store.HealthHealthy || s.Condition != "" {
		t.Fatalf("status after consent restored: %+v", s)
	}
	open, resolved := f.alerts(store.AlertTenantAccess)
	if len(open) != 0 || len(resolved) != 1 {
		t.Fatalf("access alerts after consent restored: %d open, %d resolved", len(open), len(resolved))
	}
	if m := f.monitorStatus(); m != store.MonitorAuthorized {
		t.Errorf("monitor is %q after recovery", m)
	}
}

func (f *healthFixture) mustOneOpen() store.Alert {
	f.t.Helper()
	open, _ := f.alerts(store.AlertTenantAccess)
	if len(open) != 1 {
		f.t.Fatalf("%d open access alerts, want 1", len(open))
	}
	return open[0]
}

// A token endpoint answering 503 is Microsoft's trouble, not the tenant's:
// the tenant stays healthy and nobody is alerted; a degraded tenant stays
// degraded until a token is actually obtained.
func TestEngineDoesNotDegradeATenantOnATransientTokenFailure(t *testing.T) {
	f := newHealthFixture(t)
	if err := f.pass(); err != nil {
		t.Fatalf("first pass: %v", err)
	}
	fault := f.sim.AddTokenFault(graphsim.TokenFault{ClientID: f.seed.App.ClientID, Grant: "client_credentials", Status: 503})
	if err := f.pass(); err != nil {
		t.Logf("pass with the token endpoint unavailable: %v", err)
	}
	if s := f.status(); s.Status != store.TenantActive || s.Health != store.HealthHealthy {
		t.Fatalf("a 503 from the token endpoint changed the tenant: %+v", s)
	}
	if open, _ := f.alerts(store.AlertTenantAccess); len(open) != 0 {
		t.Fatalf("a 503 raised access alerts: %+v", open)
	}

	// Degraded, then the endpoint fails transiently: still degraded.
	f.sim.WithdrawConsent(f.ten.ID, f.seed.App.ClientID)
	f.sim.RemoveTokenFault(fault.ID)
	f.pass()
	f.sim.RestoreConsent(f.ten.ID, f.seed.App.ClientID)
	fault = f.sim.AddTokenFault(graphsim.TokenFault{ClientID: f.seed.App.ClientID, Grant: "client_credentials", Status: 503})
	f.pass()
	if s := f.status(); s.Status != store.TenantDegraded {
		t.Fatalf("a 503 cleared a degraded tenant: %+v", s)
	}
	f.sim.RemoveTokenFault(fault.ID)
	if err := f.pass(); err != nil {
		t.Fatalf("pass once the endpoint answers: %v", err)
	}
	if s := f.status(); s.Status != store.TenantActive {
		t.Fatalf("not healthy once a token was obtained: %+v", s)
	}
}

// Roster entries that match no usable account raise one alert with their
// count and a few names, are reported apart from monitored users, and the
// alert is resolved once the roster is fixed.
func TestEngineAlertsUnresolvedUsersAndResolvesWhenTheRosterIsFixed(t *testing.T) {
	f := newHealthFixture(t)
	ctx := t.Context()
	bad := []string{"alice@nowhere.example", "bob@nowhere.example", "carol@nowhere.example"}
	for _, upn := range bad {
		if _, err := f.st.Pool().Exec(ctx, `INSERT INTO directory_users (tenant_id, upn) VALUES ($1, $2)`, f.tenant, upn); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.pass(); err != nil {
		t.Fatalf("pass: %v", err)
	}
	open, _ := f.alerts(store.AlertUsersUnresolved)
	if len(open) != 1 {
		t.Fatalf("unresolved-users alerts: %+v", open)
	}
	if !strings.HasPrefix(open[0].Message, "3 users could not be found in your directory") {
		t.Errorf("alert message %q", open[0].Message)
	}
	for _, upn := range bad {
		if !strings.Contains(open[0].Message, upn) {
			t.Errorf("alert %q does not name %s", open[0].Message, upn)
		}
	}
	if n, _ := open[0].Detail["unresolved"].(float64); n != 3 {
		t.Errorf("alert detail %v, want unresolved 3", open[0].Detail)
	}
	want := store.UserCounts{Total: len(f.ten.Users) + 3, Monitored: len(f.ten.Users), Unresolved: 3}
	if s := f.status(); s.Users != want {
		t.Errorf("user counts %+v, want %+v", s.Users, want)
	}
	if sum, err := roster.New(f.st).Summary(ctx, f.tenant); err != nil || sum.Users != want {
		t.Errorf("roster summary counts %+v (%v), want %+v", sum.Users, err, want)
	}

	// The admin fixes the roster: the alert goes.
	if _, err := roster.New(f.st).Import(ctx, f.tenant, rosterOf(f.ten.Users), roster.ImportOptions{Replace: true}); err != nil {
		t.Fatal(err)
	}
	if err := f.pass(); err != nil {
		t.Fatalf("pass after the fix: %v", err)
	}
	open, resolved := f.alerts(store.AlertUsersUnresolved)
	if len(open) != 0 || len(resolved) != 1 {
		t.Fatalf("after the fix: %d open, %d resolved", len(open), len(resolved))
	}
}

func rosterOf(us []graphsim.SeedUser) []roster.Entry {
	out := make([]roster.Entry, len(us))
	for i, u := range us {
		out[i] = roster.Entry{UPN: u.UPN}
	}
	return out
}

// One tenant's slow token request holds up that tenant alone (the app-only
// token cache locks per tenant, not across the request), and a failed
// request is not cached: the next call asks again.
func TestAppTokenOfOneTenantDoesNotWaitForAnothersAndFailuresAreNotCached(t *testing.T) {
	ctx := t.Context()
	sim := graphsim.New(graphsim.Options{})
	seed := graphsim.GenerateSeed(2, 3, 1, 9)
	if err := sim.Apply(seed); err != nil {
		t.Fatal(err)
	}
	slow, fast := seed.Tenants[0], seed.Tenants[1]
	gate := make(chan struct{})
	held := make(chan struct{}, 1)
	gs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/"+slow.ID.String()+"/oauth2/") {
			held <- struct{}{}
			<-gate
		}
		sim.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(gs.Close)
	t.Cleanup(func() {
		select {
		case <-gate:
		default:
			close(gate)
		}
	})
	sim.SetBaseURL(gs.URL)
	idc, _ := identity.New(identity.Options{LoginURL: gs.URL})
	msApp := identity.App{ClientID: seed.App.ClientID, ClientSecret: seed.App.ClientSecret}
	ours := map[uuid.UUID]string{uuid.New(): slow.ID.String(), uuid.New(): fast.ID.String()}
	var slowID, fastID uuid.UUID
	for id, ms := range ours {
		if ms == slow.ID.String() {
			slowID = id
		} else {
			fastID = id
		}
	}
	creds := func(_ context.Context, id uuid.UUID) (identity.App, string, error) { return msApp, ours[id], nil }
	gc := newGraphClients(&config.Config{GraphBaseURL: gs.URL, LoginBaseURL: gs.URL}, nil, nil, creds, idc, nil)

	slowDone := make(chan error, 1)
	go func() {
		_, err := gc.Directory(ctx, slowID)
		slowDone <- err
	}()
	<-held // the slow tenant's token request is in flight
	fastDone := make(chan error, 1)
	go func() {
		_, err := gc.Directory(ctx, fastID)
		fastDone <- err
	}()
	select {
	case err := <-fastDone:
		if err != nil {
			t.Fatalf("fast tenant: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a tenant's app token waited for another tenant's token request")
	}
	close(gate)
	if err := <-slowDone; err != nil {
		t.Fatalf("slow tenant: %v", err)
	}

	// A failure is not cached: once the endpoint answers, so do we.
	sim.AddTokenFault(graphsim.TokenFault{ClientID: msApp.ClientID, Grant: "client_credentials", Status: 503, Times: 1})
	if _, err := gc.CheckAccess(ctx, fastID); identity.ClassOf(err) != identity.Transient {
		t.Fatalf("check with the endpoint unavailable: %v, want a transient error", err)
	}
	if _, err := gc.CheckAccess(ctx, fastID); err != nil {
		t.Fatalf("check once the endpoint answers: %v", err)
	}
}
