package onboarding

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/graphsim"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
)

// ownApp registers a customer's own app in graphsim and consents to it in
// the first tenant.
func (f *fixture) ownApp() graphsim.SeedApp {
	f.t.Helper()
	app := graphsim.SeedApp{ClientID: uuid.NewString(), ClientSecret: "own~" + uuid.NewString(), DisplayName: "Contoso presence",
		RedirectURIs: []string{base + "/onboarding/monitors/callback"}}
	ten := f.ten()
	err := f.sim.Apply(graphsim.Seed{App: app, Tenants: []graphsim.SeedTenant{{ID: ten.ID, Domain: ten.Domain, Consented: true}}})
	if err != nil {
		f.t.Fatal(err)
	}
	return app
}

func TestBringYourOwnApp(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tenantID := f.invited()
	app := f.ownApp()
	ten := f.ten()
	next := time.Now().AddDate(1, 0, 0).Format("2006-01-02")

	fe, err := f.svc.SetOwnApp(ctx, tenantID, OwnApp{ClientID: "x", TenantID: "y", SecretExpires: "soon"}, nil, "admin")
	if err != nil || fe["clientId"] == "" || fe["tenantId"] == "" || fe["clientSecret"] == "" || fe["secretExpires"] == "" {
		t.Fatalf("bad fields: %v %v", fe, err)
	}
	fe, err = f.svc.SetOwnApp(ctx, tenantID, OwnApp{ClientID: app.ClientID, TenantID: ten.ID.String(), ClientSecret: "wrong", SecretExpires: next}, nil, "admin")
	if err != nil || !strings.Contains(fe["clientSecret"], "AADSTS7000215") {
		t.Fatalf("wrong secret: %v %v", fe, err)
	}
	other := f.seed.Tenants[1] // the app has no service principal there
	fe, err = f.svc.SetOwnApp(ctx, tenantID, OwnApp{ClientID: app.ClientID, TenantID: other.ID.String(), ClientSecret: app.ClientSecret, SecretExpires: next}, nil, "admin")
	if err != nil || fe["clientId"] == "" {
		t.Fatalf("app not in that tenant: %v %v", fe, err)
	}
	// Graph cannot tell the expiry and none was entered.
	noGraph := func(context.Context, string, string) ([]graphapi.SecretCredential, error) {
		return nil, errors.New("403")
	}
	fe, err = f.svc.SetOwnApp(ctx, tenantID, OwnApp{ClientID: app.ClientID, TenantID: ten.ID.String(), ClientSecret: app.ClientSecret}, noGraph, "admin")
	if err != nil || !strings.Contains(fe["secretExpires"], "enter it") {
		t.Fatalf("no expiry: %v %v", fe, err)
	}
	if _, err := f.st.GetTenantApp(ctx, tenantID); !errors.Is(err, store.ErrNoTenantApp) {
		t.Fatalf("refused app was stored: %v", err)
	}

	// Accepted, expiry from Graph.
	exp := time.Now().AddDate(0, 6, 0).UTC().Truncate(time.Second)
	fromGraph := func(_ context.Context, token, clientID string) ([]graphapi.SecretCredential, error) {
		if token == "" || clientID != app.ClientID {
			t.Errorf("expiry reader called with token %q client %q", token, clientID)
		}
		return []graphapi.SecretCredential{ // another secret of the app, then the one entered (by its hint)
			{Hint: "zz~", Expires: exp.AddDate(1, 0, 0)},
			{Hint: app.ClientSecret[:3], Expires: exp},
		}, nil
	}
	fe, err = f.svc.SetOwnApp(ctx, tenantID, OwnApp{ClientID: app.ClientID, TenantID: ten.ID.String(), ClientSecret: app.ClientSecret}, fromGraph, "admin")
	if err != nil || fe != nil {
		t.Fatalf("SetOwnApp: %v %v", fe, err)
	}
	rec, err := f.st.GetTenantApp(ctx, tenantID)
	if err != nil || rec.SecretExpiresAt == nil || !rec.SecretExpiresAt.Equal(exp) || rec.SecretExpirySource != "graph" {
		t.Fatalf("stored app = %+v %v", rec, err)
	}
	storetest.RequireNotStored(t, f.pool, app.ClientSecret)
	if a, msTenant, err := f.svc.Credentials(ctx, tenantID); err != nil || a.ClientID != app.ClientID || a.ClientSecret != app.ClientSecret || msTenant != ten.ID.String() {
		t.Fatalf("Credentials = %v %v %v", a.ClientID, msTenant, err)
	}
	st, _ := f.svc.Status(ctx, tenantID)
	if st.Onboarding.ConsentStatus != "granted" {
		t.Errorf("own app did not complete step 1: %+v", st.Onboarding)
	}

	// A monitor signs in through the tenant's own app.
	m, _ := f.svc.AddMonitor(ctx, tenantID, ten.Monitors[0].UPN, "admin")
	if err := f.signIn(tenantID, m, ten.Monitors[0]); err != nil {
		t.Fatalf("sign-in through the own app: %v", err)
	}
	if n := f.sim.CountTokenCalls(graphsim.TokenCalls{ClientID: app.ClientID, Grant: "authorization_code"}); n != 1 {
		t.Errorf("codes redeemed with the own app = %d, want 1", n)
	}

	// Another app registration: monitors must sign in again.
	app2 := f.ownApp()
	fe, err = f.svc.SetOwnApp(ctx, tenantID, OwnApp{ClientID: app2.ClientID, TenantID: ten.ID.String(), ClientSecret: app2.ClientSecret, SecretExpires: next}, nil, "admin")
	if err != nil || fe != nil {
		t.Fatalf("second app: %v %v", fe, err)
	}
	got, _ := f.st.GetMonitor(ctx, tenantID, m.ID)
	if got.Status != store.MonitorNeedsUpdate {
		t.Errorf("monitor after the app changed = %s, want needs_update", got.Status)
	}
	rec, _ = f.st.GetTenantApp(ctx, tenantID)
	if rec.SecretExpirySource != "admin" || rec.SecretExpiresAt.Format("2006-01-02") != next {
		t.Errorf("entered expiry = %+v", rec)
	}
}
