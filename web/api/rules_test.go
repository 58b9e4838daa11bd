package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"presencebridge/internal/presence"
)

// do calls the API with the fixture's key.
func (f *fixture) do(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	resp, out := f.as(t, f.key, method, path, body)
	return resp.StatusCode, out
}

func stateOf(out map[string]any, availability, activity string) string {
	for _, p := range out["preview"].([]any) {
		m := p.(map[string]any)
		if m["availability"] == availability && m["activity"] == activity {
			return m["state"].(string)
		}
	}
	return ""
}

func TestMappingRulesPreviewSaveAndRefuseBadOnes(t *testing.T) {
	f := newFixture(t)
	code, out := f.do(t, "GET", "/api/v1/mapping-rules", "")
	if code != 200 || stateOf(out, "Busy", "InAMeeting") != "talking" {
		t.Fatalf("defaults: %d %v", code, out)
	}
	// Preview: meetings are not calls for this tenant; nothing saved yet.
	code, out = f.do(t, "POST", "/api/v1/mapping-rules/preview",
		`{"rules":`+rulesJSON(t, func(r *presence.Rules) { r.TalkingInMeeting = false })+`,"samples":[{"availability":"Busy","activity":"InAMeeting"}]}`)
	if code != 200 || stateOf(out, "Busy", "InAMeeting") != "busy" || len(out["preview"].([]any)) != 1 {
		t.Fatalf("preview: %d %v", code, out)
	}
	if _, out = f.do(t, "GET", "/api/v1/mapping-rules", ""); stateOf(out, "Busy", "InAMeeting") != "talking" {
		t.Error("a preview changed the saved rules")
	}
	code, _ = f.do(t, "PUT", "/api/v1/mapping-rules", `{"rules":`+rulesJSON(t, func(r *presence.Rules) {
		r.TalkingInMeeting, r.AvailableIdle = false, presence.Available
	})+`}`)
	if code != 200 {
		t.Fatalf("PUT: %d", code)
	}
	if _, out = f.do(t, "GET", "/api/v1/mapping-rules", ""); stateOf(out, "Busy", "InAMeeting") != "busy" || stateOf(out, "AvailableIdle", "Available") != "available" {
		t.Errorf("saved rules not applied: %v", out["preview"])
	}
	audit, err := f.st.AuditLog(context.Background(), f.tenant, 10)
	if err != nil || len(audit) != 1 || audit[0].Action != "mapping_rules.updated" || !strings.HasPrefix(audit[0].Actor, "apikey:") {
		t.Errorf("audit log after the PUT = %+v (%v), want one mapping_rules.updated by the API key", audit, err)
	}
	// Whole and valid, or refused without a change: a state that does not
	// exist, a field of the wrong type, a field left out, one we do not
	// know, null, two documents.
	whole := rulesJSON(t, nil)
	for body, want := range map[string]int{
		`{"rules":` + strings.Replace(whole, `"busyIdle":"busy"`, `"busyIdle":"ringing"`, 1) + `}`:          422,
		`{"rules":` + strings.Replace(whole, `"debounce":"`, `"debounce":"soon`, 1) + `}`:                   422,
		`{"rules":` + strings.Replace(whole, `"talkingInCall":true`, `"talkingInCall":"yes"`, 1) + `}`:      422,
		`{"rules":` + strings.Replace(whole, `"talkingInCall":true,`, ``, 1) + `}`:                          422,
		`{"rules":` + strings.Replace(whole, `"talkingInCall":true`, `"talkingInCall":true,"x":1`, 1) + `}`: 422,
		`{"rulez":{}}`: 422,
		`null`:         422,
		`{"rules":` + whole + `}{"rules":` + whole + `}`: 400,
	} {
		if code, out := f.do(t, "PUT", "/api/v1/mapping-rules", body); code != want || out["title"] == nil {
			t.Errorf("PUT %s: %d %v, want %d with a problem", body, code, out, want)
		}
	}
	if _, out = f.do(t, "GET", "/api/v1/mapping-rules", ""); stateOf(out, "Busy", "InAMeeting") != "busy" {
		t.Errorf("a refused PUT changed the rules: %v", out["preview"])
	}
}

// rulesJSON is the default rule set, changed by change, as JSON.
func rulesJSON(t *testing.T, change func(*presence.Rules)) string {
	t.Helper()
	r := presence.DefaultRules()
	if change != nil {
		change(&r)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A PATCH changes only the fields it names; If-Match makes a change
// conditional on the version read (412 otherwise), and a patch that
// leaves the rules invalid changes nothing.
func TestRulesArePatchedByMergePatchAndChangedOnlyAtTheVersionRead(t *testing.T) {
	f := newFixture(t)
	send := func(method, body, ifMatch, contentType string) (*http.Response, map[string]any) {
		t.Helper()
		h := headers(f.key, "Content-Type", contentType)
		if ifMatch != "" {
			h.Set("If-Match", ifMatch)
		}
		return f.request(t, method, "/api/v1/mapping-rules", body, h)
	}
	got, _ := send("GET", "", "", "")
	v1 := got.Header.Get("ETag")
	if got.StatusCode != 200 || !strings.HasPrefix(v1, `"`) {
		t.Fatalf("GET: %d ETag %q", got.StatusCode, v1)
	}
	resp, out := send("PATCH", `{"rules":{"talkingInMeeting":false}}`, v1, "application/merge-patch+json")
	v2 := resp.Header.Get("ETag")
	rules, _ := out["rules"].(map[string]any)
	if resp.StatusCode != 200 || v2 == v1 || rules["talkingInMeeting"] != false || rules["talkingInCall"] != true || stateOf(out, "Busy", "InAMeeting") != "busy" {
		t.Fatalf("PATCH: %d %q %v", resp.StatusCode, v2, out)
	}
	// A change made from the first version is refused: it would undo the patch.
	if resp, p := send("PUT", `{"rules":`+rulesJSON(t, nil)+`}`, v1, "application/json"); resp.StatusCode != 412 || !strings.Contains(p["detail"].(string), v2) {
		t.Errorf("PUT at a stale version: %d %v", resp.StatusCode, p)
	}
	for body, want := range map[string]int{
		`{"rules":{"busyIdle":"ringing"}}`:  422,
		`{"rules":{"talkingInCall":"yes"}}`: 422,
		`{"rules":{"nope":1}}`:              422,
		`{"rules":`:                         400,
	} {
		if resp, p := send("PATCH", body, "", "application/merge-patch+json"); resp.StatusCode != want || p["detail"] == nil {
			t.Errorf("PATCH %s: %d %v, want %d", body, resp.StatusCode, p, want)
		}
	}
	if resp, _ := send("GET", "", "", ""); resp.Header.Get("ETag") != v2 {
		t.Errorf("refused changes moved the version: %q, want %q", resp.Header.Get("ETag"), v2)
	}
	audit, _ := f.st.AuditLog(context.Background(), f.tenant, 10)
	if len(audit) != 1 {
		t.Errorf("%d audit entries, want the one patch", len(audit))
	}
}
