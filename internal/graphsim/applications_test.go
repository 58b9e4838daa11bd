package graphsim

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// newAppReaderFixture is the standard fixture whose app may also read
// registrations (Application.Read.All), as a secret-expiry monitor needs.
func newAppReaderFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, func(s *Seed) {
		s.App.Application = append(slices.Clone(DefaultApplication), "Application.Read.All")
		exp := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
		s.App.SecretExpires = &exp
	})
}

func TestApplicationShowsSecretExpiryToItsHomeTenant(t *testing.T) {
	f := newAppReaderFixture(t)
	ten := f.tenant()
	if err := f.sim.SetAppHomeTenant(f.seed.App.ClientID, ten.ID); err != nil {
		t.Fatal(err)
	}
	tok := f.appToken(ten)
	client := f.seed.App.ClientID
	list := f.page(tok, "/v1.0/applications?$filter="+q("appId eq '"+client+"'")+"&$select=id,appId,passwordCredentials")
	if len(list.Value) != 1 {
		t.Fatalf("applications by appId: %v", list.Value)
	}
	byKey := f.get(tok, "/v1.0/applications(appId='"+client+"')")
	var app map[string]any
	byKey.json(t, &app)
	if byKey.status != 200 || app["appId"] != client || app["id"] != list.Value[0]["id"] {
		t.Fatalf("by alternate key: %d %s", byKey.status, byKey.body)
	}
	byID := f.get(tok, "/v1.0/applications/"+app["id"].(string))
	if byID.status != 200 {
		t.Fatalf("by object id: %d %s", byID.status, byID.body)
	}
	creds, _ := list.Value[0]["passwordCredentials"].([]any)
	if len(creds) != 1 {
		t.Fatalf("passwordCredentials %v", list.Value[0]["passwordCredentials"])
	}
	c := creds[0].(map[string]any)
	if c["hint"] != f.seed.App.ClientSecret[:3] || c["secretText"] != nil || c["customKeyIdentifier"] != nil {
		t.Fatalf("credential %v", c)
	}
	if c["endDateTime"] != f.seed.App.SecretExpires.Format(time.RFC3339) {
		t.Fatalf("endDateTime %v, want %s", c["endDateTime"], f.seed.App.SecretExpires.Format(time.RFC3339))
	}
	if _, err := uuid.Parse(c["keyId"].(string)); err != nil {
		t.Fatalf("keyId %v", c["keyId"])
	}
	start, err := time.Parse(time.RFC3339, c["startDateTime"].(string))
	if err != nil || !start.Before(*f.seed.App.SecretExpires) {
		t.Fatalf("startDateTime %v", c["startDateTime"])
	}
}

func TestApplicationIsInvisibleOutsideItsHomeTenant(t *testing.T) {
	f := newAppReaderFixture(t)
	if err := f.sim.SetAppHomeTenant(f.seed.App.ClientID, f.seed.Tenants[1].ID); err != nil {
		t.Fatal(err)
	}
	tok := f.appToken(f.tenant()) // a customer tenant: it holds a service principal, not the application
	client := f.seed.App.ClientID
	if p := f.page(tok, "/v1.0/applications?$filter="+q("appId eq '"+client+"'")); len(p.Value) != 0 {
		t.Fatalf("the application is listed in a customer tenant: %v", p.Value)
	}
	wantGraphError(t, f.get(tok, "/v1.0/applications(appId='"+client+"')"), http.StatusNotFound, "Request_ResourceNotFound", client)
	wantGraphError(t, f.get(tok, "/v1.0/applications(displayName='x')"), http.StatusBadRequest, "BadRequest", "")
}

func TestApplicationsNeedApplicationReadAll(t *testing.T) {
	f := newFixture(t) // the default registration has no Application.Read.All
	tok := f.appToken(f.tenant())
	for _, path := range []string{"/v1.0/applications", "/v1.0/applications(appId='" + f.seed.App.ClientID + "')",
		"/v1.0/servicePrincipals", "/v1.0/oauth2PermissionGrants"} {
		wantGraphError(t, f.get(tok, path), http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges")
	}
}

func TestApplicationReadWriteOwnedByReadsOnlyItsOwnRegistration(t *testing.T) {
	f := newFixtureWith(t, func(s *Seed) {
		s.App.Application = append(slices.Clone(DefaultApplication), "Application.ReadWrite.OwnedBy")
	})
	other := GenerateSeed(0, 0, 0, 9).App
	other.ClientID = uuid.NewString()
	if err := f.sim.Apply(Seed{App: other}); err != nil {
		t.Fatal(err)
	}
	// The other registration lives in the same tenant: visible to
	// Application.Read.All, not to OwnedBy.
	if err := f.sim.SetAppHomeTenant(other.ClientID, f.tenant().ID); err != nil {
		t.Fatal(err)
	}
	tok := f.appToken(f.tenant())
	if p := f.page(tok, "/v1.0/applications"); len(p.Value) != 1 || p.Value[0]["appId"] != f.seed.App.ClientID {
		t.Fatalf("OwnedBy lists %v", p.Value)
	}
	wantGraphError(t, f.get(tok, "/v1.0/applications(appId='"+other.ClientID+"')"), http.StatusNotFound, "Request_ResourceNotFound", "")

	reader := newAppReaderFixture(t)
	if err := reader.sim.Apply(Seed{App: other}); err != nil {
		t.Fatal(err)
	}
	if err := reader.sim.SetAppHomeTenant(other.ClientID, reader.tenant().ID); err != nil {
		t.Fatal(err)
	}
	if p := reader.page(reader.appToken(reader.tenant()), "/v1.0/applications"); len(p.Value) != 2 {
		t.Fatalf("Application.Read.All lists %d registrations, want 2", len(p.Value))
	}
}

func TestServicePrincipalShowsWhatTheTenantGranted(t *testing.T) {
	f := newAppReaderFixture(t)
	ten := f.tenant()
	tok := f.appToken(ten)
	client := f.seed.App.ClientID
	sps := f.page(tok, "/v1.0/servicePrincipals?$filter="+q("appId eq '"+client+"'"))
	if len(sps.Value) != 1 {
		t.Fatalf("service principals: %v", sps.Value)
	}
	spID := sps.Value[0]["id"].(string)
	if spID != servicePrincipalID(ten.ID, client).String() {
		t.Fatalf("sp id %s", spID)
	}
	res := f.get(tok, "/v1.0/servicePrincipals(appId='"+client+"')?$select=id,appId")
	var sp map[string]any
	res.json(t, &sp)
	if res.status != 200 || sp["id"] != spID {
		t.Fatalf("by appId: %d %s", res.status, res.body)
	}

	// Map appRoleIds to names through Graph's own service principal (docs/identity.md#granted-permissions).
	graph := f.get(tok, "/v1.0/servicePrincipals(appId='"+GraphAppID+"')?$select=id,appRoles,oauth2PermissionScopes")
	var g struct {
		AppRoles []struct{ ID, Value string } `json:"appRoles"`
	}
	graph.json(t, &g)
	names := map[string]string{}
	for _, r := range g.AppRoles {
		names[r.ID] = r.Value
	}
	assignments := f.page(tok, "/v1.0/servicePrincipals/"+spID+"/appRoleAssignments")
	var granted []string
	for _, a := range assignments.Value {
		if a["principalId"] != spID || a["principalType"] != "ServicePrincipal" || a["resourceDisplayName"] != "Microsoft Graph" {
			t.Fatalf("assignment %v", a)
		}
		granted = append(granted, names[a["appRoleId"].(string)])
	}
	sort.Strings(granted)
	want := append(slices.Clone(DefaultApplication), "Application.Read.All")
	sort.Strings(want)
	if !slices.Equal(granted, want) {
		t.Fatalf("granted roles %v, want %v", granted, want)
	}

	grants := f.page(tok, "/v1.0/oauth2PermissionGrants?$filter="+q("clientId eq '"+spID+"'"))
	if len(grants.Value) != 1 || grants.Value[0]["consentType"] != "AllPrincipals" {
		t.Fatalf("grants %v", grants.Value)
	}
	scope := strings.Fields(grants.Value[0]["scope"].(string))
	if !slices.Contains(scope, "Presence.Read.All") || !slices.Contains(scope, "User.ReadBasic.All") {
		t.Fatalf("delegated scopes %v", scope)
	}
	same := f.page(tok, "/v1.0/servicePrincipals/"+spID+"/oauth2PermissionGrants")
	if len(same.Value) != 1 || same.Value[0]["id"] != grants.Value[0]["id"] {
		t.Fatalf("grants via the service principal %v", same.Value)
	}
}

func TestServicePrincipalOfAnUnconsentedAppIsNotFound(t *testing.T) {
	f := newAppReaderFixture(t)
	tok := f.appToken(f.tenant())
	stranger := uuid.NewString()
	wantGraphError(t, f.get(tok, "/v1.0/servicePrincipals(appId='"+stranger+"')"), http.StatusNotFound, "Request_ResourceNotFound", stranger)
	wantGraphError(t, f.get(tok, "/v1.0/servicePrincipals/"+stranger+"/appRoleAssignments"), http.StatusNotFound, "Request_ResourceNotFound", "")
	if p := f.page(tok, "/v1.0/servicePrincipals?$filter="+q("appId eq '"+stranger+"'")); len(p.Value) != 0 {
		t.Fatalf("unconsented app listed: %v", p.Value)
	}
	// Revoking consent removes the service principal's grants (docs/identity.md#granted-permissions: 404 = never consented or removed).
	spID := servicePrincipalID(f.tenant().ID, f.seed.App.ClientID).String()
	if st, body := f.ctl(http.MethodDelete, "/tenants/"+f.tenant().ID.String()+"/grants/"+f.seed.App.ClientID, nil); st != 204 {
		t.Fatalf("revoke: %d %s", st, body)
	}
	wantGraphError(t, f.get(tok, "/v1.0/servicePrincipals/"+spID+"/appRoleAssignments"), http.StatusNotFound, "Request_ResourceNotFound", "")
}
