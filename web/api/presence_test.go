package api

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"presencebridge/internal/presence"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/tenantview"
)

func TestAUsersPresenceIsReadByObjectIDOrUPNAndUnknownUntilSeen(t *testing.T) {
	f := newResourceFixture(t, nil)
	m := f.monitor(t, f.tenant, "monitor@contoso.example")
	ids := f.resolved(t, f.tenant, &m, "alice@contoso.example", "bob@contoso.example")
	at := f.presence(t, f.tenant, ids[0], "Busy", "InACall", "talking",
		presence.Rich{StatusMessage: &presence.StatusMessage{Message: "On the hotline today"}})
	for _, ref := range []string{ids[0].String(), "Alice@contoso.example"} {
		code, p := f.do(t, "GET", "/api/v1/users/"+ref+"/presence", "")
		if code != 200 || p["userId"] != ids[0].String() || p["upn"] != "alice@contoso.example" || p["externalId"] != "tel-alice@contoso.example" ||
			p["availability"] != "Busy" || p["activity"] != "InACall" || p["state"] != "talking" || p["sequence"] != 1.0 ||
			p["observedAt"] != at.Format(time.RFC3339Nano) || p["heldUntil"] != nil || p["outOfOffice"] != nil ||
			p["statusMessage"].(map[string]any)["message"] != "On the hotline today" {
			t.Errorf("GET /users/%s/presence: %d %v", ref, code, p)
		}
	}
	code, p := f.do(t, "GET", "/api/v1/users/bob@contoso.example/presence", "")
	if code != 200 || p["availability"] != "PresenceUnknown" || p["state"] != "unknown" || p["sequence"] != 0.0 || p["observedAt"] != nil {
		t.Errorf("a user never seen: %d %v", code, p)
	}
}

func TestAnotherTenantsUsersPresenceIsNotFound(t *testing.T) {
	f := newResourceFixture(t, nil)
	other := storetest.Tenant(t, f.st.Pool(), "Fabrikam")
	theirs := f.resolved(t, other, nil, "zoe@fabrikam.example")[0]
	f.presence(t, other, theirs, "Busy", "InACall", "talking")
	// An entry not resolved yet has no presence to read either.
	if code, _ := f.do(t, "POST", "/api/v1/users:bulk", `{"users":[{"upn":"new@contoso.example"}]}`); code != 200 {
		t.Fatal(code)
	}
	for _, ref := range []string{theirs.String(), "zoe@fabrikam.example", uuid.NewString(), "new@contoso.example"} {
		if code, p := f.do(t, "GET", "/api/v1/users/"+ref+"/presence", ""); code != 404 || p["title"] != "Not Found" {
			t.Errorf("GET /users/%s/presence: %d %v", ref, code, p)
		}
	}
	code, out := f.do(t, "POST", "/api/v1/presence:batch", `{"ids":["`+theirs.String()+`"]}`)
	if code != 200 || len(out["data"].([]any)) != 0 || out["notFound"].([]any)[0] != theirs.String() {
		t.Errorf("batch of another tenant's user: %d %v", code, out)
	}
	if code, out := f.do(t, "GET", "/api/v1/presence", ""); code != 200 || len(out["data"].([]any)) != 0 {
		t.Errorf("snapshot shows another tenant's users: %d %v", code, out)
	}
}

func TestABatchReadListsTheRostersUsersAndNamesTheOthers(t *testing.T) {
	f := newResourceFixture(t, nil)
	ids := f.resolved(t, f.tenant, nil, "alice@contoso.example", "bob@contoso.example")
	f.presence(t, f.tenant, ids[1], "Away", "Away", "away")
	stranger := uuid.New()
	code, out := f.do(t, "POST", "/api/v1/presence:batch", `{"ids":["`+ids[1].String()+`","`+stranger.String()+`","`+ids[0].String()+`"]}`)
	data, _ := out["data"].([]any)
	if code != 200 || len(data) != 2 || out["notFound"].([]any)[0] != stranger.String() {
		t.Fatalf("batch: %d %v", code, out)
	}
	for _, d := range data {
		p := d.(map[string]any)
		want := map[string]string{ids[0].String(): "PresenceUnknown", ids[1].String(): "Away"}[p["userId"].(string)]
		if p["availability"] != want {
			t.Errorf("%v: availability %v, want %s", p["userId"], p["availability"], want)
		}
	}
	many := make([]string, maxPresenceBatch+1)
	for i := range many {
		many[i] = `"` + uuid.NewString() + `"`
	}
	for body, want := range map[string]string{
		`{"ids":[` + strings.Join(many, ",") + `]}`: "body.ids",
		`{"ids":[]}`:            "body.ids",
		`{"ids":["not-an-id"]}`: "body.ids[0]",
		`{"ids":["` + ids[0].String() + `","` + ids[0].String() + `"]}`: "body.ids",
	} {
		if code, p := f.do(t, "POST", "/api/v1/presence:batch", body); code != 422 || !strings.Contains(mustJSON(t, p["errors"]), want) {
			t.Errorf("batch %.60s…: %d %v, want 422 at %s", body, code, p, want)
		}
	}
}

func TestTheSnapshotPagesThroughEveryUserOnce(t *testing.T) {
	f := newResourceFixture(t, nil)
	ids := f.resolved(t, f.tenant, nil, "a@contoso.example", "b@contoso.example", "c@contoso.example", "d@contoso.example", "e@contoso.example")
	for _, id := range ids[:3] {
		f.presence(t, f.tenant, id, "Busy", "InACall", "talking")
	}
	seen := map[string]int{}
	known := 0
	next := "/api/v1/presence?limit=2"
	for pages := 1; next != ""; pages++ {
		code, out := f.do(t, "GET", next, "")
		if code != 200 || pages > 3 {
			t.Fatalf("GET %s: %d %v", next, code, out)
		}
		for _, d := range out["data"].([]any) {
			p := d.(map[string]any)
			seen[p["userId"].(string)]++
			if p["availability"] == "Busy" {
				known++
			}
		}
		next = ""
		if c, ok := out["nextCursor"].(string); ok {
			next = "/api/v1/presence?limit=2&cursor=" + url.QueryEscape(c)
		}
	}
	if len(seen) != 5 || known != 3 {
		t.Errorf("snapshot saw %v (%d known), want each of 5 once, 3 known", seen, known)
	}
	for _, id := range ids {
		if seen[id.String()] != 1 {
			t.Errorf("%s seen %d times", id, seen[id.String()])
		}
	}
	for _, q := range []string{"cursor=%25%25", "cursor=AAAA", "limit=1001", "limit=0"} {
		if code, _ := f.do(t, "GET", "/api/v1/presence?"+q, ""); code != 422 {
			t.Errorf("?%s: %d, want 422", q, code)
		}
	}
}

func TestPresenceIsWrittenAsEncodingJSONWritesIt(t *testing.T) {
	seen := time.Date(2026, 12, 2, 9, 30, 1, 123456000, time.UTC)
	published := seen.Add(-time.Hour)
	for name, p := range map[string]store.UserPresence{
		"never seen": {ObjectID: uuid.New(), UPN: "bob@contoso.example"},
		"known, every field": {ObjectID: uuid.New(), UPN: "alice@contoso.example", ExternalID: "tel-1001", Known: true,
			Availability: "Busy", Activity: "InACall", MappedState: "talking", Sequence: 42, ObservedAt: seen,
			HeldUntil: seen.Add(2 * time.Second).In(time.FixedZone("CET", 3600)),
			Rich: presence.Rich{
				StatusMessage: &presence.StatusMessage{Message: "Back at 3 <b>&</b> \"quoted\" \\ café \u2028 line", PublishedDateTime: &published},
				OutOfOffice:   &presence.OutOfOffice{IsOutOfOffice: true, Message: "back Monday"},
				WorkLocation:  &presence.WorkLocation{WorkLocationType: "office", Source: "manual", PlaceID: "b-42"}}},
		"names that need escaping": {ObjectID: uuid.New(), UPN: "o'brien\"x\\y\u00e9@contoso.example", ExternalID: "tab\there\x01",
			Known: true, Availability: "Away", Activity: "Away", MappedState: "away", Sequence: 1, ObservedAt: seen},
	} {
		checkWrittenAsJSON(t, name, p)
	}
	// Each character a JSON string escapes, alone in a name (a name that
	// needs no escaping is written as it is).
	for _, s := range []string{`say "hi"`, `back\slash`, "tab\t", "nul\x00", "caf\u00e9", "line\u2028sep", "bad\xffutf8", "<b>&amp;</b>"} {
		checkWrittenAsJSON(t, fmt.Sprintf("%q", s), store.UserPresence{ObjectID: uuid.New(), UPN: s + "@contoso.example", ExternalID: s})
	}
}

// checkWrittenAsJSON fails t unless tenantview.AppendPresenceJSON writes p as encoding/json (huma's
// JSON format) writes toPresence(p).
func checkWrittenAsJSON(t *testing.T, name string, p store.UserPresence) {
	t.Helper()
	var want bytes.Buffer
	if err := huma.DefaultJSONFormat.Marshal(&want, toPresence(p)); err != nil {
		t.Fatal(err)
	}
	if got := tenantview.AppendPresenceJSON(nil, &p); string(got) != strings.TrimSuffix(want.String(), "\n") {
		t.Errorf("%s:\n got %s\nwant %s", name, got, want.String())
	}
}
