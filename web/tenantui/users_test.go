package tenantui_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"presencebridge/internal/engine"
	"presencebridge/internal/graph"
	"presencebridge/internal/roster"
	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
	"presencebridge/web/portal/portaltest"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// import adds upns to the tenant's roster through internal/roster.
func importUsers(t testing.TB, p *portaltest.Portal, upns ...string) {
	t.Helper()
	entries := make([]roster.Entry, len(upns))
	for i, u := range upns {
		entries[i] = roster.Entry{UPN: u}
	}
	if _, err := roster.New(p.Store).Import(t.Context(), p.Tenant.ID, entries, roster.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
}

// appClient is Graph, as graphsim, with our app's token for the tenant.
func appClient(t *testing.T, p *portaltest.Portal) *graph.Client {
	t.Helper()
	ten := p.Seed.Tenants[0]
	cc := clientcredentials.Config{ClientID: p.Seed.App.ClientID, ClientSecret: p.Seed.App.ClientSecret,
		TokenURL: p.SimURL + "/" + ten.ID.String() + "/oauth2/v2.0/token", Scopes: []string{"https://graph.microsoft.com/.default"},
		AuthStyle: oauth2.AuthStyleInParams}
	c, err := graph.New(graph.Options{BaseURL: p.SimURL + "/v1.0", Tokens: cc.TokenSource(t.Context()), Retry: graph.Retry{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantText(t *testing.T, pg portaltest.Page, status int, texts ...string) {
	t.Helper()
	if pg.Status != status {
		t.Errorf("status %d, want %d (%s)", pg.Status, status, pg.Location)
	}
	for _, s := range texts {
		if !strings.Contains(pg.Text(), s) {
			t.Errorf("page lacks %q:\n%s", s, pg.Text())
		}
	}
}

func TestTheUsersListPagesByCursorAndFiltersUnresolvedUsersWithTheirReason(t *testing.T) {
	p := portaltest.New(t)
	var upns []string
	for i := range 120 {
		upns = append(upns, fmt.Sprintf("user%03d@contoso.example", i))
	}
	importUsers(t, p, append(upns, "ghost@contoso.example")...)
	rows, _ := p.Store.DirectoryUsers(t.Context(), p.Tenant.ID, false)
	ghost := rows[len(rows)-1]
	if err := p.Store.RecordResolutions(t.Context(), p.Tenant.ID, []store.Resolution{{ID: ghost.ID, Status: store.UserNotFound,
		Error: "no user with UPN or e-mail ghost@contoso.example in the directory"}}); err != nil {
		t.Fatal(err)
	}
	b := p.Browser()
	b.SignIn()
	pg := b.Get("/portal/users/")
	// ghost sorts first: the first page is it and user000 to user048.
	wantText(t, pg, 200, "121 users", "ghost@contoso.example", "user000@contoso.example", "user048@contoso.example")
	if strings.Contains(pg.Body, "user049@contoso.example") {
		t.Error("the first page lists more than 50 users")
	}
	before, _, _ := strings.Cut(pg.Body, `" id="next-page"`)
	next := before[strings.LastIndex(before, `href="`)+len(`href="`):]
	pg = b.Get(html.UnescapeString(next))
	wantText(t, pg, 200, "user049@contoso.example", "user098@contoso.example")
	if strings.Contains(pg.Body, "user048@contoso.example") || strings.Contains(pg.Body, "user099@contoso.example") {
		t.Error("the second page is not the next 50 users")
	}
	pg = b.Get("/portal/users/?status=unresolved")
	wantText(t, pg, 200, "ghost@contoso.example", "not found", "no user with UPN or e-mail ghost@contoso.example")
	if strings.Contains(pg.Body, "user000@contoso.example") {
		t.Error("the unresolved filter lists a user who was found")
	}
	wantText(t, b.Get("/portal/users/?q=USER11"), 200, "user110@contoso.example", "user119@contoso.example")
}

func TestACSVWithBadLinesIsRefusedNamingEachLineAndAGoodOneReplacesTheRoster(t *testing.T) {
	p, b := onUsersPage(t, "old@contoso.example")
	upload := func(csv string) portaltest.Page { return uploadCSV(b, csv) }
	wantText(t, upload("upn,telephonyId\nalex@contoso.example,1\nnot an address,2\nalex@contoso.example,3\n"), http.StatusUnprocessableEntity,
		"Nothing was changed", "Line 3:", "Line 4:")
	rows, _ := p.Store.DirectoryUsers(t.Context(), p.Tenant.ID, false)
	if len(rows) != 1 || rows[0].UPN != "old@contoso.example" {
		t.Fatalf("a refused CSV changed the roster: %+v", rows)
	}
	pg := upload("upn,telephonyId\nalex@contoso.example,1\nsam@contoso.example,2\n")
	if pg.Status != http.StatusSeeOther {
		t.Fatalf("good CSV: %d\n%s", pg.Status, pg.Text())
	}
	wantText(t, b.Get(pg.Location), 200, "The roster is the CSV file now.", "2 users added, 1 user removed")
	rows, _ = p.Store.DirectoryUsers(t.Context(), p.Tenant.ID, false)
	if len(rows) != 2 || rows[0].Source != store.SourceCSV {
		t.Errorf("after the CSV: %+v", rows)
	}
	var actor string
	p.Store.Pool().QueryRow(t.Context(), `SELECT actor FROM audit_log WHERE action = 'roster.replaced' AND tenant_id = $1`, p.Tenant.ID).Scan(&actor)
	if actor != "portal:"+p.Seed.Tenants[0].Admin.ID.String() {
		t.Errorf("the upload is audited as %q", actor)
	}
}

func TestAFormWithoutTheCSRFTokenChangesNoRoster(t *testing.T) {
	p, b := onUsersPage(t)
	wantText(t, b.Post("/portal/users/add", url.Values{"users": {"alex@contoso.example"}, "csrf": {"forged"}}), http.StatusForbidden)
	if rows, _ := p.Store.DirectoryUsers(t.Context(), p.Tenant.ID, false); len(rows) != 0 {
		t.Errorf("a forged form added %d users", len(rows))
	}
	pg := b.Post("/portal/users/add", url.Values{"users": {"alex@contoso.example\nsam@contoso.example"}})
	if pg.Status != http.StatusSeeOther {
		t.Fatalf("add: %d\n%s", pg.Status, pg.Text())
	}
	wantText(t, b.Get(pg.Location), 200, "Added 2 users.")
}

// createGroup makes an Entra group of the seed tenant in graphsim with
// the members named, and returns its object id.
func createGroup(t *testing.T, p *portaltest.Portal, members ...string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"displayName": "Agents", "members": members})
	resp, err := http.Post(p.SimURL+"/_sim/tenants/"+p.Seed.Tenants[0].ID.String()+"/groups", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create group: %v %v", resp, err)
	}
	defer resp.Body.Close()
	var group struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&group)
	return group.ID
}

// authorizeMonitor adds the seed tenant's first monitor account as a
// presence monitor and signs it in at graphsim, as Authorize now does.
func authorizeMonitor(t *testing.T, p *portaltest.Portal) {
	t.Helper()
	p.AuthorizeMonitor(t, p.Seed.Tenants[0].Monitors[0])
}

// enginePass runs the presence engine's pass over the portal's tenant as
// a worker does (portaltest.Portal.EnginePass).
func enginePass(t *testing.T, p *portaltest.Portal) engine.Report {
	t.Helper()
	return p.EnginePass(t)
}

func TestSwitchingTheRosterToAnEntraGroupHasItsMembersMonitoredAfterTheEnginesPass(t *testing.T) {
	p := portaltest.New(t)
	activate(t, p)
	ten := p.Seed.Tenants[0]
	members := ten.Users[:2]
	importUsers(t, p, "left.over@contoso.example")
	group := createGroup(t, p, members[0].UPN, members[1].UPN)
	authorizeMonitor(t, p)

	b := p.Browser()
	b.SignIn()
	b.Get("/portal/users/")
	wantText(t, b.Post("/portal/users/group", url.Values{"group": {"agents"}}), http.StatusUnprocessableEntity, "Enter the group's object id")
	pg := b.Post("/portal/users/group", url.Values{"group": {group}})
	if pg.Status != http.StatusSeeOther {
		t.Fatalf("use group: %d\n%s", pg.Status, pg.Text())
	}
	wantText(t, b.Get(pg.Location), 200, "The roster follows the Entra group now.", "follows the Entra group "+group)
	if got := auditActors(t, p.Store, p.Tenant.ID, "roster_source.updated"); len(got) != 1 || got[0] != "portal:"+ten.Admin.ID.String() {
		t.Errorf("the switch is audited as %v", got)
	}

	if rep := enginePass(t, p); rep.Users != len(members) || rep.Unmonitored != 0 {
		t.Errorf("the engine's pass: %+v", rep)
	}
	pg = b.Get("/portal/users/?status=monitored")
	text := strings.Join(strings.Fields(pg.Text()), " ")
	for _, u := range members {
		if !strings.Contains(text, u.UPN+" monitored") {
			t.Errorf("the monitored users do not list %s as monitored:\n%s", u.UPN, text)
		}
	}
	if !strings.Contains(text, "2 users: 2 monitored") {
		t.Errorf("the roster's counts: %s", text)
	}
	if strings.Contains(pg.Body, "left.over@") {
		t.Error("the list user is still on a group roster")
	}
	if strings.Contains(pg.Body, `id="add-users"`) {
		t.Error("a group roster offers to add users by hand")
	}
	wantBody(t, b.Get(userPage(members[0].UPN)), `id="user-state">monitored<`)
	// Monitored means subscribed: graphsim holds a presence subscription naming each member.
	var resources []string
	for _, sub := range p.Sim.Subscriptions() {
		resources = append(resources, sub.Resource)
	}
	for _, u := range members {
		if !strings.Contains(strings.ToLower(strings.Join(resources, " ")), strings.ToLower(u.ID.String())) {
			t.Errorf("no subscription at graphsim covers %s: %v", u.UPN, resources)
		}
	}
}
