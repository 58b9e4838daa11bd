package api

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
)

// upnsOf lists the UPNs of a list answer's users.
func upnsOf(out map[string]any) []string {
	var upns []string
	for _, u := range out["data"].([]any) {
		upns = append(upns, u.(map[string]any)["upn"].(string))
	}
	return upns
}

func TestUsersAreListedInUPNOrderAPageAtATimeWithFilters(t *testing.T) {
	f := newResourceFixture(t, nil)
	m := f.monitor(t, f.tenant, "monitor@contoso.example")
	f.resolved(t, f.tenant, &m, "carol@contoso.example", "alice@contoso.example", "dave@contoso.example")
	f.resolved(t, f.tenant, nil, "bob@contoso.example")
	if code, _ := f.do(t, "POST", "/api/v1/users:bulk", `{"users":[{"upn":"Alan@contoso.example"}]}`); code != 200 {
		t.Fatalf("bulk: %d", code)
	}

	var all []string
	next := "/api/v1/users?limit=2"
	for pages := 0; next != ""; pages++ {
		code, out := f.do(t, "GET", next, "")
		if code != 200 || pages > 3 {
			t.Fatalf("GET %s: %d %v", next, code, out)
		}
		all = append(all, upnsOf(out)...)
		next = ""
		if c, ok := out["nextCursor"].(string); ok {
			next = "/api/v1/users?limit=2&cursor=" + url.QueryEscape(c)
		}
	}
	if got := fmt.Sprint(all); got != "[Alan@contoso.example alice@contoso.example bob@contoso.example carol@contoso.example dave@contoso.example]" {
		t.Errorf("paged through %s", got)
	}

	for query, want := range map[string]string{
		"status=pending":                      "[Alan@contoso.example]",
		"monitored=true":                      "[alice@contoso.example carol@contoso.example dave@contoso.example]",
		"monitored=false":                     "[Alan@contoso.example bob@contoso.example]",
		"q=AL":                                "[Alan@contoso.example alice@contoso.example]",
		"q=al&status=resolved&monitored=true": "[alice@contoso.example]",
	} {
		code, out := f.do(t, "GET", "/api/v1/users?"+query, "")
		if got := fmt.Sprint(upnsOf(out)); code != 200 || got != want || out["nextCursor"] != nil {
			t.Errorf("?%s: %d %s %v, want %s", query, code, got, out["nextCursor"], want)
		}
	}

	_, out := f.do(t, "GET", "/api/v1/users?q=alice", "")
	alice := out["data"].([]any)[0].(map[string]any)
	res := alice["resolution"].(map[string]any)
	if alice["id"] == nil || alice["externalId"] != "tel-alice@contoso.example" || alice["monitored"] != true || alice["monitorId"] != m.String() ||
		alice["source"] != "list" || res["status"] != "resolved" || alice["displayName"] != "User alice@contoso.example" {
		t.Errorf("alice: %v", alice)
	}
}

func TestBadListQueriesAre422NamingTheParameter(t *testing.T) {
	f := newResourceFixture(t, nil)
	for query, want := range map[string]string{
		"cursor=%25%25%25": "query.cursor",
		"limit=0":          "query.limit",
		"limit=1001":       "query.limit",
		"status=lost":      "query.status",
		"monitored=maybe":  "query.monitored",
		"colour=red":       "colour",
	} {
		code, p := f.do(t, "GET", "/api/v1/users?"+query, "")
		if code != 422 || !strings.Contains(mustJSON(t, p["errors"]), want) {
			t.Errorf("?%s: %d %v, want 422 at %s", query, code, p, want)
		}
	}
}

func TestAUserIsReadByObjectIDOrUPNAndAnotherTenantsIsNotFound(t *testing.T) {
	f := newResourceFixture(t, nil)
	id := f.resolved(t, f.tenant, nil, "alice@contoso.example")[0]
	for _, ref := range []string{id.String(), "ALICE@contoso.example"} {
		code, u := f.do(t, "GET", "/api/v1/users/"+ref, "")
		if code != 200 || u["id"] != id.String() || u["upn"] != "alice@contoso.example" || u["monitored"] != false {
			t.Errorf("GET /users/%s: %d %v", ref, code, u)
		}
	}
	other := storetest.Tenant(t, f.st.Pool(), "Fabrikam")
	theirs := f.resolved(t, other, nil, "zoe@fabrikam.example")[0]
	for _, ref := range []string{theirs.String(), "zoe@fabrikam.example", uuid.NewString(), "not-a-user"} {
		if code, p := f.do(t, "GET", "/api/v1/users/"+ref, ""); code != 404 || p["title"] != "Not Found" {
			t.Errorf("GET /users/%s: %d %v, want 404", ref, code, p)
		}
	}
}

func TestBulkUpsertAddsUpdatesAndCountsWhatItLeftUnchangedAndIsAudited(t *testing.T) {
	f := newResourceFixture(t, nil)
	code, out := f.do(t, "POST", "/api/v1/users:bulk",
		`{"users":[{"upn":"a@contoso.example","externalId":"1"},{"upn":"b@contoso.example"}]}`)
	if code != 200 || out["added"] != 2.0 || out["updated"] != 0.0 || out["unchanged"] != 0.0 {
		t.Fatalf("first: %d %v", code, out)
	}
	code, out = f.do(t, "POST", "/api/v1/users:bulk",
		`{"users":[{"upn":"A@contoso.example","externalId":"2"},{"upn":"b@contoso.example"},{"upn":" c@contoso.example "}]}`)
	if code != 200 || out["added"] != 1.0 || out["updated"] != 1.0 || out["unchanged"] != 1.0 {
		t.Fatalf("second: %d %v", code, out)
	}
	if _, u := f.do(t, "GET", "/api/v1/users/a@contoso.example", ""); u["externalId"] != "2" || u["resolution"].(map[string]any)["status"] != "pending" {
		t.Errorf("a after the update: %v", u)
	}
	if _, u := f.do(t, "GET", "/api/v1/users/c@contoso.example", ""); u["upn"] != "c@contoso.example" {
		t.Errorf("c was not trimmed: %v", u)
	}
	a := f.audited(t)
	if a.Action != "users.upserted" || !strings.HasPrefix(a.Actor, "apikey:") || a.Detail["added"] != 1.0 || a.Detail["unchanged"] != 1.0 {
		t.Errorf("audit: %+v", a)
	}
}

func TestBulkUpsertRefusesEveryBadEntryAtOnceAndChangesNothing(t *testing.T) {
	f := newResourceFixture(t, nil)
	code, p := f.do(t, "POST", "/api/v1/users:bulk",
		`{"users":[{"upn":"ok@contoso.example"},{"upn":"no-at-sign"},{"upn":"OK@contoso.example"},{"upn":"x@nodomain"}]}`)
	errs := mustJSON(t, p["errors"])
	if code != 422 || !strings.Contains(errs, "body.users[1].upn") || !strings.Contains(errs, "body.users[2].upn") ||
		!strings.Contains(errs, "body.users[3].upn") || strings.Contains(errs, "body.users[0]") || !strings.Contains(errs, "already on line 1") {
		t.Errorf("bad entries: %d %v", code, p)
	}
	if n, _ := f.st.RosterCount(context.Background(), f.tenant); n != 0 {
		t.Errorf("%d users stored from a refused body", n)
	}
	for body, want := range map[string]string{
		`{"users":[]}`:                       "body.users",
		`{"users":[{"upn":""}]}`:             "body.users[0].upn",
		`{"users":[{"mail":"a@b.example"}]}`: "body.users[0]",
		`{}`:                                 "users",
	} {
		if code, p := f.do(t, "POST", "/api/v1/users:bulk", body); code != 422 || !strings.Contains(mustJSON(t, p["errors"]), want) {
			t.Errorf("%s: %d %v, want 422 at %s", body, code, p, want)
		}
	}
}

// bulkBody is a bulk upsert of n users.
func bulkBody(n int) string {
	var b strings.Builder
	b.WriteString(`{"users":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"upn":"agent%05d@contoso.example","externalId":"ext-%d"}`, i, i)
	}
	b.WriteString(`]}`)
	return b.String()
}

func TestBulkUpsertTakes10000UsersInOneCall(t *testing.T) {
	f := newResourceFixture(t, nil)
	code, out := f.do(t, "POST", "/api/v1/users:bulk", bulkBody(10_000))
	if code != 200 || out["added"] != 10000.0 {
		t.Fatalf("10,000 users: %d %v", code, out)
	}
	if n, _ := f.st.RosterCount(context.Background(), f.tenant); n != 10_000 {
		t.Errorf("%d users stored", n)
	}
	code, out = f.do(t, "POST", "/api/v1/users:bulk", bulkBody(10_000))
	if code != 200 || out["unchanged"] != 10000.0 {
		t.Errorf("the same 10,000 again: %d %v", code, out)
	}
}

func TestBulkUpsertAboveTheLimitsIs422OrTooLarge(t *testing.T) {
	f := newResourceFixture(t, nil)
	if code, p := f.do(t, "POST", "/api/v1/users:bulk", bulkBody(10_001)); code != 422 || !strings.Contains(mustJSON(t, p["errors"]), "body.users") {
		t.Errorf("10,001 users: %d %v", code, p)
	}
	huge := `{"users":[{"upn":"a@contoso.example","externalId":"` + strings.Repeat("x", maxBulkBytes) + `"}]}`
	if code, p := f.do(t, "POST", "/api/v1/users:bulk", huge); code != 413 {
		t.Errorf("a body over %d bytes: %d %v", maxBulkBytes, code, p)
	}
}

func TestAGroupRostersUsersAreNotAddedOrRemovedByHand(t *testing.T) {
	f := newResourceFixture(t, nil)
	f.resolved(t, f.tenant, nil, "alice@contoso.example")
	group := uuid.New()
	if code, out := f.do(t, "PUT", "/api/v1/users/source", `{"kind":"group","groupId":"`+group.String()+`"}`); code != 200 || out["groupId"] != group.String() {
		t.Fatalf("choose the group: %d %v", code, out)
	}
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/v1/users:bulk", `{"users":[{"upn":"b@contoso.example"}]}`},
		{"DELETE", "/api/v1/users/alice@contoso.example", ""},
	} {
		if code, p := f.do(t, c.method, c.path, c.body); code != 409 || !strings.Contains(p["detail"].(string), "Entra group") {
			t.Errorf("%s %s on a group roster: %d %v", c.method, c.path, code, p)
		}
	}
}

func TestDeletingAUserTakesItOffTheRosterAndIsAudited(t *testing.T) {
	f := newResourceFixture(t, nil)
	ids := f.resolved(t, f.tenant, nil, "alice@contoso.example", "bob@contoso.example")
	for _, ref := range []string{ids[0].String(), "BOB@contoso.example"} {
		if code, p := f.do(t, "DELETE", "/api/v1/users/"+ref, ""); code != 204 {
			t.Fatalf("DELETE /users/%s: %d %v", ref, code, p)
		}
		if code, _ := f.do(t, "GET", "/api/v1/users/"+ref, ""); code != 404 {
			t.Errorf("GET after DELETE /users/%s: %d", ref, code)
		}
	}
	if a := f.audited(t); a.Action != "user.removed" || a.Detail["upn"] != "bob@contoso.example" || a.Detail["objectId"] != ids[1].String() {
		t.Errorf("audit: %+v", a)
	}
	other := storetest.Tenant(t, f.st.Pool(), "Fabrikam")
	theirs := f.resolved(t, other, nil, "zoe@fabrikam.example")[0]
	for _, ref := range []string{theirs.String(), "zoe@fabrikam.example", "alice@contoso.example"} {
		if code, _ := f.do(t, "DELETE", "/api/v1/users/"+ref, ""); code != 404 {
			t.Errorf("DELETE /users/%s: %d, want 404", ref, code)
		}
	}
	if n, _ := f.st.RosterCount(context.Background(), other); n != 1 {
		t.Errorf("the other tenant's roster holds %d users", n)
	}
}

func TestTheRosterSourceSwitchesBetweenAListAndAGroupThroughTheRoster(t *testing.T) {
	f := newResourceFixture(t, nil)
	if code, out := f.do(t, "GET", "/api/v1/users/source", ""); code != 200 || out["kind"] != "list" || out["groupId"] != nil {
		t.Errorf("default: %d %v", code, out)
	}
	group := uuid.New()
	body := `{"kind":"group","groupId":"` + group.String() + `"}`
	if code, out := f.do(t, "PUT", "/api/v1/users/source", body); code != 200 || out["kind"] != "group" || out["groupId"] != group.String() {
		t.Fatalf("PUT group: %d %v", code, out)
	}
	if a := f.audited(t); a.Action != "roster_source.updated" || a.Detail["kind"] != "group" {
		t.Errorf("audit: %+v", a)
	}
	// Choosing the group followed already keeps what its sync learnt.
	if err := f.st.RecordGroupSync(context.Background(), f.tenant, "https://graph.example/delta?token=1", false, nil); err != nil {
		t.Fatal(err)
	}
	if code, out := f.do(t, "PUT", "/api/v1/users/source", body); code != 200 || out["lastSyncAt"] == nil {
		t.Errorf("the same group again: %d %v", code, out)
	}
	if src, _ := f.st.TenantRosterSource(context.Background(), f.tenant); src.DeltaLink == "" {
		t.Errorf("the same group again dropped its delta link: %+v", src)
	}
	if code, out := f.do(t, "PUT", "/api/v1/users/source", `{"kind":"list"}`); code != 200 || out["kind"] != "list" {
		t.Errorf("PUT list: %d %v", code, out)
	}
	for body, want := range map[string]string{
		`{"kind":"group"}`: "body.groupId",
		`{"kind":"list","groupId":"` + group.String() + `"}`: "body.groupId",
		`{"kind":"folder"}`: "body.kind",
		`{}`:                "kind",
	} {
		if code, p := f.do(t, "PUT", "/api/v1/users/source", body); code != 422 || !strings.Contains(mustJSON(t, p["errors"]), want) {
			t.Errorf("PUT %s: %d %v, want 422 at %s", body, code, p, want)
		}
	}
	if src, _ := f.st.TenantRosterSource(context.Background(), f.tenant); src.Kind != store.SourceList {
		t.Errorf("a refused PUT changed the source: %+v", src)
	}
}
