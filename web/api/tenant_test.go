package api

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/uuid"

	"presencebridge/internal/graphsim/simtest"
	"presencebridge/internal/identity"
	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

// graphsimGrants reads the roles granted in graphsim's seeded tenant from
// an app-only token, as the engine's Graph clients do.
func graphsimGrants(t *testing.T) func(context.Context, uuid.UUID) ([]string, error) {
	t.Helper()
	env := simtest.New(t)
	idc, err := identity.New(identity.Options{LoginURL: env.Base})
	if err != nil {
		t.Fatal(err)
	}
	app := identity.App{ClientID: env.Seed.App.ClientID, ClientSecret: env.Seed.App.ClientSecret}
	return func(ctx context.Context, _ uuid.UUID) ([]string, error) {
		at, err := idc.AppTokenFor(ctx, app, env.Tenant.ID.String())
		return at.Roles, err
	}
}

func TestTheTenantsStatusShowsConsentRolesMonitorsCapacityUsersAndOpenAlerts(t *testing.T) {
	grants := graphsimGrants(t)
	f := newResourceFixture(t, func(*store.Store) Resources { return Resources{Grants: grants} })
	ctx := context.Background()
	ms := f.activate(t)
	m := f.monitor(t, f.tenant, "monitor1@contoso.example")
	if _, err := f.st.AddMonitor(ctx, f.tenant, "monitor2@contoso.example"); err != nil {
		t.Fatal(err)
	}
	f.resolved(t, f.tenant, &m, "alice@contoso.example", "bob@contoso.example")
	f.resolved(t, f.tenant, nil, "carol@contoso.example")
	if code, _ := f.do(t, "POST", "/api/v1/users:bulk", `{"users":[{"upn":"new@contoso.example"},{"upn":"gone@contoso.example"}]}`); code != 200 {
		t.Fatal(code)
	}
	testkit.Exec(t, f.st.Pool(), `UPDATE directory_users SET resolution_status = 'not_found' WHERE upn = 'gone@contoso.example'`)
	if err := f.st.RaiseAlert(ctx, f.tenant, store.AlertUsersUnresolved, "", "1 user could not be found", map[string]any{"unresolved": 1}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.RaiseAlert(ctx, f.tenant, store.AlertUsersUnmonitored, "", "old", nil); err != nil {
		t.Fatal(err)
	}
	if err := f.st.ResolveAlert(ctx, f.tenant, store.AlertUsersUnmonitored, ""); err != nil {
		t.Fatal(err)
	}

	code, out := f.do(t, "GET", "/api/v1/tenant", "")
	if code != 200 || out["id"] != f.tenant.String() || out["name"] != "Contoso" || out["status"] != "active" {
		t.Fatalf("GET /tenant: %d %v", code, out)
	}
	if h := out["health"].(map[string]any); h["status"] != "healthy" || h["condition"] != nil {
		t.Errorf("health: %v", h)
	}
	c := out["consent"].(map[string]any)
	var roles []string
	for _, r := range c["roles"].([]any) {
		roles = append(roles, r.(string))
	}
	if c["status"] != "granted" || c["microsoftTenantId"] != ms.String() || c["grantedAt"] == nil ||
		!slices.Contains(roles, "Presence.Read.All") || !slices.Contains(roles, "User.Read.All") {
		t.Errorf("consent: %v", c)
	}
	mon := out["monitors"].(map[string]any)
	if mon["authorized"] != 1.0 || mon["perMonitor"] != 650.0 || mon["capacity"] != 650.0 || mon["assigned"] != 2.0 ||
		len(mon["items"].([]any)) != 2 {
		t.Errorf("monitors: %v", mon)
	}
	u := out["users"].(map[string]any)
	by := u["byStatus"].(map[string]any)
	if u["total"] != 5.0 || u["monitored"] != 2.0 || u["unmonitored"] != 1.0 || u["unresolved"] != 1.0 || u["pending"] != 1.0 ||
		by["resolved"] != 3.0 || by["not_found"] != 1.0 || u["source"].(map[string]any)["kind"] != "list" {
		t.Errorf("users: %v", u)
	}
	alerts := out["alerts"].([]any)
	if len(alerts) != 1 || alerts[0].(map[string]any)["kind"] != store.AlertUsersUnresolved {
		t.Errorf("open alerts: %v", alerts)
	}
}

func TestTheTenantsStatusSaysWhenTheGrantedRolesCannotBeRead(t *testing.T) {
	f := newResourceFixture(t, func(*store.Store) Resources {
		return Resources{Grants: func(context.Context, uuid.UUID) ([]string, error) {
			return nil, errors.New("AADSTS7000222: secret expired")
		}}
	})
	code, out := f.do(t, "GET", "/api/v1/tenant", "")
	if c := out["consent"].(map[string]any); code != 200 || c["status"] != "pending" || c["roles"] != nil || c["rolesError"] != nil {
		t.Errorf("before consent, roles are not asked for: %d %v", code, c)
	}
	f.activate(t)
	code, out = f.do(t, "GET", "/api/v1/tenant", "")
	if c := out["consent"].(map[string]any); code != 200 || c["status"] != "granted" || c["roles"] != nil || c["rolesError"] == nil {
		t.Errorf("roles unreadable: %d %v", code, c)
	}
	if code, out := f.do(t, "GET", "/api/v1/tenant", ""); code != 200 || out["status"] != "active" {
		t.Errorf("%d %v", code, out)
	}
}
