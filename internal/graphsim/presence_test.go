package graphsim

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// writerApp gives the seeded app the application permission to write
// presence, as a platform that sets Teams presence would hold.
func writerApp(s *Seed) {
	s.App.Application = append(append([]string{}, DefaultApplication...), "Presence.ReadWrite.All")
}

type presenceBody struct {
	Context        string `json:"@odata.context"`
	ID             string `json:"id"`
	Availability   string `json:"availability"`
	Activity       string `json:"activity"`
	SequenceNumber string `json:"sequenceNumber"`
	StatusMessage  *struct {
		Message struct {
			Content     string `json:"content"`
			ContentType string `json:"contentType"`
		} `json:"message"`
		ExpiryDateTime    *DateTimeTimeZone `json:"expiryDateTime"`
		PublishedDateTime *string           `json:"publishedDateTime"`
	} `json:"statusMessage"`
	OutOfOfficeSettings *struct {
		Message       *string `json:"message"`
		IsOutOfOffice *bool   `json:"isOutOfOffice"`
	} `json:"outOfOfficeSettings"`
}

func (f *fixture) presence(token string, user uuid.UUID) presenceBody {
	f.t.Helper()
	res := f.call(token, "GET", "/v1.0/users/"+user.String()+"/presence", nil)
	if res.status != http.StatusOK {
		f.t.Fatalf("GET presence: %d %s", res.status, res.body)
	}
	var p presenceBody
	res.json(f.t, &p)
	return p
}

func (f *fixture) wantPresence(token string, user uuid.UUID, availability, activity string) presenceBody {
	f.t.Helper()
	p := f.presence(token, user)
	if p.Availability != availability || p.Activity != activity {
		f.t.Fatalf("presence = %s/%s, want %s/%s", p.Availability, p.Activity, availability, activity)
	}
	return p
}

func TestPresenceReadsFollowTheUsersTeamsClients(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	adele, other := ten.Users[0], ten.Users[1]
	app := f.appToken(ten)

	p := f.wantPresence(app, adele.ID, "Offline", "Offline")
	if p.ID != adele.ID.String() || p.OutOfOfficeSettings == nil || p.OutOfOfficeSettings.IsOutOfOffice == nil || *p.OutOfOfficeSettings.IsOutOfOffice {
		t.Errorf("presence body = %+v, want id and outOfOfficeSettings.isOutOfOffice false", p)
	}
	if want := f.srv.URL + "/v1.0/$metadata#users('" + adele.ID.String() + "')/presence/$entity"; p.Context != want {
		t.Errorf("@odata.context = %q, want %q", p.Context, want)
	}

	// The person joins a call (control API, as the Teams client would).
	res := f.call("", "POST", "/_sim/users/"+adele.ID.String()+"/presence", map[string]string{"availability": "busy", "activity": "inacall"})
	if res.status != http.StatusOK {
		t.Fatalf("control set presence: %d %s", res.status, res.body)
	}
	inCall := f.wantPresence(app, adele.ID, "Busy", "InACall")
	if inCall.SequenceNumber == "" || inCall.SequenceNumber <= p.SequenceNumber {
		t.Errorf("sequenceNumber %q after %q: want a larger one", inCall.SequenceNumber, p.SequenceNumber)
	}
	// The same state again is no change: same sequence number.
	f.call("", "POST", "/_sim/users/"+adele.ID.String()+"/presence", map[string]string{"availability": "Busy", "activity": "InACall"})
	if again := f.presence(app, adele.ID); again.SequenceNumber != inCall.SequenceNumber {
		t.Errorf("sequenceNumber moved without a change: %q → %q", inCall.SequenceNumber, again.SequenceNumber)
	}

	// The same through /communications/presences/{id} and /me/presence.
	var byComms presenceBody
	res = f.call(app, "GET", "/v1.0/communications/presences/"+adele.ID.String(), nil)
	res.json(t, &byComms)
	if res.status != 200 || byComms.Activity != "InACall" {
		t.Errorf("communications/presences: %d %s", res.status, res.body)
	}
	res = f.call(f.userToken(ten, adele), "GET", "/v1.0/me/presence", nil)
	var mine presenceBody
	res.json(t, &mine)
	if res.status != 200 || mine.ID != adele.ID.String() || mine.Activity != "InACall" {
		t.Errorf("/me/presence: %d %s", res.status, res.body)
	}
	if res := f.call(app, "GET", "/v1.0/me/presence", nil); res.status != 400 || !strings.Contains(res.graphErr(t).Message, "delegated") {
		t.Errorf("/me with an app token: %d %s", res.status, res.body)
	}

	// Bulk read: known users in order, unknown GUIDs as PresenceUnknown.
	stranger := uuid.New()
	res = f.call(app, "POST", "/v1.0/communications/getPresencesByUserId",
		map[string]any{"ids": []string{adele.ID.String(), other.ID.String(), stranger.String()}})
	var bulk struct {
		Value []presenceBody `json:"value"`
	}
	res.json(t, &bulk)
	if res.status != 200 || len(bulk.Value) != 3 {
		t.Fatalf("getPresencesByUserId: %d %s", res.status, res.body)
	}
	got := fmt.Sprintf("%s/%s %s/%s %s/%s", bulk.Value[0].Availability, bulk.Value[0].Activity,
		bulk.Value[1].Availability, bulk.Value[1].Activity, bulk.Value[2].Availability, bulk.Value[2].Activity)
	if got != "Busy/InACall Offline/Offline PresenceUnknown/PresenceUnknown" {
		t.Errorf("bulk presences = %s", got)
	}

	// Another tenant's user is not found.
	foreign := f.seed.Tenants[1].Users[0]
	if res := f.call(app, "GET", "/v1.0/users/"+foreign.ID.String()+"/presence", nil); res.status != 404 || res.graphErr(t).Code != "Request_ResourceNotFound" {
		t.Errorf("other tenant's user: %d %s", res.status, res.body)
	}
	// The user can be named by UPN too.
	for _, upn := range []string{adele.UPN, strings.Replace(adele.UPN, "@", "%40", 1)} { // the SDK percent-encodes
		if res := f.call(app, "GET", "/v1.0/users/"+upn+"/presence", nil); res.status != 200 {
			t.Errorf("presence by UPN %s: %d %s", upn, res.status, res.body)
		}
	}
}

func TestGetPresencesByUserIdRejectsBadInputAsGraphDoes(t *testing.T) {
	f := newFixture(t)
	app := f.appToken(f.tenant())
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = uuid.NewString()
		}
		return out
	}
	if res := f.call(app, "POST", "/v1.0/communications/getPresencesByUserId", map[string]any{"ids": ids(650)}); res.status != 200 {
		t.Fatalf("650 ids: %d %s", res.status, res.body)
	}
	for name, tc := range map[string]struct {
		body any
		msg  string
	}{
		"651 ids":   {map[string]any{"ids": ids(651)}, "651"},
		"no ids":    {map[string]any{"ids": []string{}}, "at least one"},
		"not GUIDs": {map[string]any{"ids": []string{"adele@contoso.example"}}, "adele@contoso.example"},
		"not JSON":  {[]byte(`{"ids": [`), "valid JSON"},
		"empty":     {[]byte(``), "Empty Payload"},
	} {
		res := f.call(app, "POST", "/v1.0/communications/getPresencesByUserId", tc.body)
		if res.status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", name, res.status, res.body)
			continue
		}
		if e := res.graphErr(t); e.Code != "BadRequest" || !strings.Contains(e.Message, tc.msg) {
			t.Errorf("%s: error %+v, want BadRequest mentioning %q", name, e, tc.msg)
		}
	}

	// msgraph-sdk-go gzips request bodies.
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	fmt.Fprintf(zw, `{"ids":[%q]}`, f.tenant().Users[0].ID)
	zw.Close()
	req, _ := http.NewRequestWithContext(ctx(t), "POST", f.srv.URL+"/v1.0/communications/getPresencesByUserId", &zipped)
	req.Header.Set("Authorization", "Bearer "+app)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("gzip body: status %d", resp.StatusCode)
	}
}

func TestPresenceNeedsPermissions(t *testing.T) {
	f := newFixtureWith(t, func(s *Seed) { s.App.Application = []string{"User.Read.All"} })
	ten := f.tenant()
	app := f.appToken(ten)
	res := f.call(app, "GET", "/v1.0/users/"+ten.Users[0].ID.String()+"/presence", nil)
	if res.status != http.StatusForbidden {
		t.Fatalf("read without Presence.Read.All: %d %s", res.status, res.body)
	}
	if e := res.graphErr(t); e.Code != "Forbidden" || !strings.Contains(e.Message, "Presence.Read.All") {
		t.Errorf("error = %+v", e)
	}
	// Reading is not writing: Presence.Read.All cannot setPresence.
	g := newFixtureWith(t, func(s *Seed) {
		s.App.Application = []string{"User.Read.All", "Presence.Read.All", "GroupMember.Read.All"}
	})
	res = g.call(g.appToken(g.tenant()), "POST", "/v1.0/users/"+g.tenant().Users[0].ID.String()+"/presence/setPresence",
		map[string]string{"sessionId": g.seed.App.ClientID, "availability": "Busy", "activity": "InACall"})
	if res.status != http.StatusForbidden || !strings.Contains(res.graphErr(t).Message, "Presence.ReadWrite.All") {
		t.Errorf("setPresence with read-only permission: %d %s", res.status, res.body)
	}
}

func TestSetPresenceSessionsAggregateAsTeamsDoes(t *testing.T) {
	f := newFixtureWith(t, writerApp)
	ten := f.tenant()
	u := ten.Users[0]
	app := f.appToken(ten)
	base := "/v1.0/users/" + u.ID.String() + "/presence/"
	set := func(body map[string]string) graphResponse { return f.call(app, "POST", base+"setPresence", body) }
	session := f.seed.App.ClientID

	for name, body := range map[string]map[string]string{
		"session is not the app id":  {"sessionId": uuid.NewString(), "availability": "Busy", "activity": "InACall"},
		"unsupported combination":    {"sessionId": session, "availability": "Busy", "activity": "Busy"},
		"in a meeting is calendar's": {"sessionId": session, "availability": "Busy", "activity": "InAMeeting"},
		"expiration too short":       {"sessionId": session, "availability": "Busy", "activity": "InACall", "expirationDuration": "PT4M"},
		"expiration too long":        {"sessionId": session, "availability": "Busy", "activity": "InACall", "expirationDuration": "PT4H1M"},
		"expiration not ISO 8601":    {"sessionId": session, "availability": "Busy", "activity": "InACall", "expirationDuration": "1 hour"},
	} {
		if res := set(body); res.status != http.StatusBadRequest || res.graphErr(t).Code != "BadRequest" {
			t.Errorf("%s: %d %s", name, res.status, res.body)
		}
	}

	if res := set(map[string]string{"sessionId": session, "availability": "Busy", "activity": "InACall", "expirationDuration": "PT1H"}); res.status != 200 || len(res.body) != 0 {
		t.Fatalf("setPresence: %d %q", res.status, res.body)
	}
	f.wantPresence(app, u.ID, "Busy", "InACall")

	// The person's own Teams client says Do not disturb: it outranks Busy.
	if err := f.sim.SetTeamsPresence(u.ID, "DoNotDisturb", "DoNotDisturb"); err != nil {
		t.Fatal(err)
	}
	f.wantPresence(app, u.ID, "DoNotDisturb", "DoNotDisturb")
	f.sim.SetTeamsPresence(u.ID, "Available", "Available")
	f.wantPresence(app, u.ID, "Busy", "InACall")

	// A preferred presence overrides the sessions; Busy keeps the call.
	pref := func(a, act string) graphResponse {
		return f.call(app, "POST", base+"setUserPreferredPresence", map[string]string{"availability": a, "activity": act})
	}
	if res := pref("Away", "Away"); res.status != 200 {
		t.Fatalf("setUserPreferredPresence: %d %s", res.status, res.body)
	}
	f.wantPresence(app, u.ID, "Away", "Away")
	pref("Busy", "Busy")
	f.wantPresence(app, u.ID, "Busy", "InACall")
	pref("Offline", "OffWork")
	f.wantPresence(app, u.ID, "Offline", "OffWork")
	if res := pref("Busy", "InACall"); res.status != 400 {
		t.Errorf("preferred Busy/InACall: %d, want 400", res.status)
	}
	if res := f.call(app, "POST", base+"clearUserPreferredPresence", map[string]any{}); res.status != 200 {
		t.Fatalf("clearUserPreferredPresence: %d %s", res.status, res.body)
	}
	f.wantPresence(app, u.ID, "Busy", "InACall")

	// Clearing the app's session leaves the Teams client's state; a
	// second clear is 404 as documented.
	clear := func() graphResponse {
		return f.call(app, "POST", base+"clearPresence", map[string]string{"sessionId": session})
	}
	if res := clear(); res.status != 200 {
		t.Fatalf("clearPresence: %d %s", res.status, res.body)
	}
	f.wantPresence(app, u.ID, "Available", "Available")
	if res := clear(); res.status != 404 || res.graphErr(t).Code != "NotFound" {
		t.Errorf("second clearPresence: %d %s", res.status, res.body)
	}

	// Signed out everywhere: a preferred presence alone shows Offline.
	f.sim.SetTeamsPresence(u.ID, "Offline", "Offline")
	pref("DoNotDisturb", "DoNotDisturb")
	f.wantPresence(app, u.ID, "Offline", "Offline")
}

func TestAnAvailableSessionFadesThenExpires(t *testing.T) {
	f := newFixtureWith(t, writerApp)
	ten := f.tenant()
	u := ten.Users[1]
	app := f.appToken(ten)
	res := f.call(app, "POST", "/v1.0/users/"+u.ID.String()+"/presence/setPresence",
		map[string]string{"sessionId": f.seed.App.ClientID, "availability": "Available", "activity": "Available", "expirationDuration": "PT1H"})
	if res.status != 200 {
		t.Fatalf("setPresence: %d %s", res.status, res.body)
	}
	steps := []struct {
		after             time.Duration
		availability, act string
	}{
		{4 * time.Minute, "Available", "Available"},
		{time.Minute, "Available", "AvailableInactive"},
		{5 * time.Minute, "Away", "Away"},
		{50 * time.Minute, "Offline", "Offline"},
	}
	for _, st := range steps {
		f.advance(st.after)
		f.sim.TickPresence()
		if p := f.sim.currentPresence(u.ID); p.Availability != st.availability || p.Activity != st.act {
			t.Fatalf("after another %v: %s/%s, want %s/%s", st.after, p.Availability, p.Activity, st.availability, st.act)
		}
	}
}

func TestStatusMessage(t *testing.T) {
	f := newFixtureWith(t, writerApp)
	ten := f.tenant()
	u := ten.Users[2]
	app := f.appToken(ten)
	f.sim.SetTeamsPresence(u.ID, "Available", "Available")
	path := "/v1.0/users/" + u.ID.String() + "/presence/setStatusMessage"
	expiry := f.clock().UTC().Add(2 * time.Hour).Format("2006-01-02T15:04:05.0000000")
	res := f.call(app, "POST", path, map[string]any{"statusMessage": map[string]any{
		"message":        map[string]string{"content": "On the support line until 4", "contentType": "text"},
		"expiryDateTime": map[string]string{"dateTime": expiry, "timeZone": "UTC"},
	}})
	if res.status != 200 {
		t.Fatalf("setStatusMessage: %d %s", res.status, res.body)
	}
	p := f.presence(app, u.ID)
	if p.StatusMessage == nil || p.StatusMessage.Message.Content != "On the support line until 4" || p.StatusMessage.Message.ContentType != "text" {
		t.Fatalf("statusMessage = %s", f.call(app, "GET", "/v1.0/users/"+u.ID.String()+"/presence", nil).body)
	}
	if p.StatusMessage.ExpiryDateTime != nil || p.StatusMessage.PublishedDateTime != nil {
		t.Errorf("another reader sees expiry and publish time: %+v", p.StatusMessage)
	}
	f.advance(2*time.Hour + time.Second)
	f.sim.TickPresence()
	app = f.appToken(ten)
	if p := f.presence(app, u.ID); p.StatusMessage != nil {
		t.Errorf("status message outlived its expiry: %+v", p.StatusMessage)
	}

	for name, body := range map[string]map[string]any{
		"html content": {"statusMessage": map[string]any{"message": map[string]string{"content": "<b>x</b>", "contentType": "html"}}},
		"offset in dateTime": {"statusMessage": map[string]any{"message": map[string]string{"content": "x"},
			"expiryDateTime": map[string]string{"dateTime": "2030-01-01T10:00:00+02:00", "timeZone": "UTC"}}},
		"unknown zone": {"statusMessage": map[string]any{"message": map[string]string{"content": "x"},
			"expiryDateTime": map[string]string{"dateTime": "2030-01-01T10:00:00", "timeZone": "Mars Standard Time"}}},
		"no statusMessage": {"message": "x"},
	} {
		if res := f.call(app, "POST", path, body); res.status != 400 {
			t.Errorf("%s: %d %s", name, res.status, res.body)
		}
	}
	// A Windows zone name is understood.
	res = f.call(app, "POST", path, map[string]any{"statusMessage": map[string]any{"message": map[string]string{"content": "x", "contentType": "text"},
		"expiryDateTime": map[string]string{"dateTime": "2030-01-01T10:00:00.0000000", "timeZone": "Pacific Standard Time"}}})
	if res.status != 200 {
		t.Errorf("Pacific Standard Time: %d %s", res.status, res.body)
	}
}

func TestGraphAuthenticationAndRoutingErrors(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	path := "/v1.0/users/" + ten.Users[0].ID.String() + "/presence"

	res := f.call("", "GET", path, nil)
	if res.status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", res.status)
	}
	e := res.graphErr(t)
	if e.Code != "InvalidAuthenticationToken" || e.Message != "Access token is empty." {
		t.Errorf("no token error = %+v", e)
	}
	if !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer ") {
		t.Errorf("WWW-Authenticate = %q", res.header.Get("WWW-Authenticate"))
	}
	if rid := res.header.Get("request-id"); rid == "" || e.InnerError["request-id"] != rid {
		t.Errorf("request-id header %q vs body %v", rid, e.InnerError["request-id"])
	}
	if res := f.call("not-a-jwt", "GET", path, nil); res.status != 401 || res.graphErr(t).Code != "InvalidAuthenticationToken" {
		t.Errorf("garbage token: %d %s", res.status, res.body)
	}
	app := f.appToken(ten)
	f.advance(2 * time.Hour)
	if res := f.call(app, "GET", path, nil); res.status != 401 || !strings.Contains(res.graphErr(t).Message, "expired") {
		t.Errorf("expired token: %d %s", res.status, res.body)
	}
	app = f.appToken(ten)
	res = f.call(app, "GET", "/v1.0/nonsense/thing", nil)
	if res.status != 400 || res.graphErr(t).Message != "Resource not found for the segment 'nonsense'." {
		t.Errorf("unknown segment: %d %s", res.status, res.body)
	}

	// client-request-id is echoed.
	req, _ := http.NewRequestWithContext(ctx(t), "GET", f.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+app)
	req.Header.Set("client-request-id", "c0ffee")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("client-request-id") != "c0ffee" {
		t.Errorf("client-request-id = %q", resp.Header.Get("client-request-id"))
	}
}

func TestPresenceThrottlingAnswers429WithRetryAfter(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	app := f.appToken(ten)
	path := "/v1.0/users/" + ten.Users[0].ID.String() + "/presence"
	if err := f.sim.SetThrottleLimit("presence", ThrottleLimit{Requests: 3, Window: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if res := f.call(app, "GET", path, nil); res.status != 200 {
			t.Fatalf("request %d: %d", i+1, res.status)
		}
	}
	res := f.call(app, "GET", path, nil)
	if res.status != http.StatusTooManyRequests {
		t.Fatalf("4th request in the window: %d, want 429", res.status)
	}
	if e := res.graphErr(t); e.Code != "TooManyRequests" || e.InnerError["code"] != "429" {
		t.Errorf("429 body = %+v", e)
	}
	ra, err := strconv.Atoi(res.header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 10 {
		t.Errorf("Retry-After = %q, want the seconds until a request is free again (≈10)", res.header.Get("Retry-After"))
	}
	f.advance(time.Duration(ra) * time.Second)
	if res := f.call(app, "GET", path, nil); res.status != 200 {
		t.Errorf("after Retry-After: %d", res.status)
	}
	if f.sim.Throttled()["presence"] != 1 {
		t.Errorf("throttled counts = %v", f.sim.Throttled())
	}

	// A storm from the control API: two 429s with its Retry-After, then through.
	res = f.call("", "POST", "/_sim/faults/throttle", map[string]any{"class": "presence", "retryAfterSeconds": 7, "times": 2})
	if res.status != http.StatusCreated {
		t.Fatalf("add storm: %d %s", res.status, res.body)
	}
	f.advance(time.Minute)
	for i := range 2 {
		if res := f.call(app, "GET", path, nil); res.status != 429 || res.header.Get("Retry-After") != "7" {
			t.Errorf("storm request %d: %d Retry-After %q", i+1, res.status, res.header.Get("Retry-After"))
		}
	}
	if res := f.call(app, "GET", path, nil); res.status != 200 {
		t.Errorf("after the storm: %d", res.status)
	}
	// 503 storms carry Retry-After too.
	res = f.call("", "POST", "/_sim/faults/throttle", map[string]any{"retryAfterSeconds": 3, "status": 503})
	var storm ThrottleFault
	res.json(t, &storm)
	if res := f.call(app, "GET", path, nil); res.status != 503 || res.header.Get("Retry-After") != "3" || res.graphErr(t).Code != "serviceNotAvailable" {
		t.Errorf("503 storm: %d %s", res.status, res.body)
	}
	if res := f.call("", "DELETE", "/_sim/faults/throttle/"+storm.ID, nil); res.status != 204 {
		t.Errorf("delete storm: %d", res.status)
	}
	if res := f.call(app, "GET", path, nil); res.status != 200 {
		t.Errorf("after deleting the storm: %d", res.status)
	}
	// A slow Graph: latency only, then served.
	f.call("", "POST", "/_sim/faults/throttle", map[string]any{"class": "presence", "delayMs": 300, "times": 1})
	start := time.Now()
	if res := f.call(app, "GET", path, nil); res.status != 200 || time.Since(start) < 300*time.Millisecond {
		t.Errorf("latency fault: %d after %v, want 200 after ≥300ms", res.status, time.Since(start))
	}
	if res := f.call("", "POST", "/_sim/faults/throttle", map[string]any{"status": 500}); res.status != 400 {
		t.Errorf("storm with status 500: %d", res.status)
	}
}

func TestParseISODuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"PT5M": 5 * time.Minute, "PT1H": time.Hour, "PT1H30M": 90 * time.Minute, "P1D": 24 * time.Hour,
		"PT300S": 5 * time.Minute, "pt4h": 4 * time.Hour, "PT0.5S": 500 * time.Millisecond,
	} {
		if got, ok := parseISODuration(in); !ok || got != want {
			t.Errorf("parseISODuration(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "P", "PT", "5M", "PT5X", "1 hour", "P1DT"} {
		if _, ok := parseISODuration(bad); ok {
			t.Errorf("parseISODuration(%q) accepted", bad)
		}
	}
}

// A scenario asks graphsim whether a product re-read a user, whether or
// not the read found anything new (GET /_sim/users/{id}/presence-read).
func TestGraphsimSaysWhenAUsersPresenceWasLastReadInBulk(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	// adele has never changed (no presence entry); megan has: the read
	// time is kept in two places.
	adele, megan, other := ten.Users[0], ten.Users[1], ten.Users[2]
	f.call("", "POST", "/_sim/users/"+megan.ID.String()+"/presence", map[string]string{"availability": "Busy", "activity": "InACall"})
	app := f.appToken(ten)
	for _, u := range []SeedUser{adele, megan} {
		var before PresenceRead
		f.call("", "GET", "/_sim/users/"+u.ID.String()+"/presence-read", nil).json(t, &before)
		if before.ReadAt != nil {
			t.Fatalf("%s read at %v before any read", u.DisplayName, before.ReadAt)
		}
	}
	start := time.Now()
	res := f.call(app, "POST", "/v1.0/communications/getPresencesByUserId", map[string]any{"ids": []string{adele.ID.String(), megan.ID.String()}})
	if res.status != http.StatusOK {
		t.Fatalf("getPresencesByUserId: %d %s", res.status, res.body)
	}
	for _, u := range []SeedUser{adele, megan} {
		var got PresenceRead
		f.call("", "GET", "/_sim/users/"+u.ID.String()+"/presence-read", nil).json(t, &got)
		if got.ReadAt == nil || got.ReadAt.Before(start.Add(-time.Second)) {
			t.Errorf("%s read at %v, want the read just made", u.DisplayName, got.ReadAt)
		}
	}
	var untouched PresenceRead
	f.call("", "GET", "/_sim/users/"+other.ID.String()+"/presence-read", nil).json(t, &untouched)
	if untouched.ReadAt != nil {
		t.Errorf("a user nobody read was read at %v", untouched.ReadAt)
	}
}
