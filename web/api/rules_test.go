package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func (f *fixture) do(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+f.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
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
		`{"rules":{"talkingInMeeting":false},"samples":[{"availability":"Busy","activity":"InAMeeting"}]}`)
	if code != 200 || stateOf(out, "Busy", "InAMeeting") != "busy" || len(out["preview"].([]any)) != 1 {
		t.Fatalf("preview: %d %v", code, out)
	}
	if _, out = f.do(t, "GET", "/api/v1/mapping-rules", ""); stateOf(out, "Busy", "InAMeeting") != "talking" {
		t.Error("a preview changed the saved rules")
	}
	code, _ = f.do(t, "PUT", "/api/v1/mapping-rules", `{"rules":{"talkingInMeeting":false,"availableIdle":"available"}}`)
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
	for body, want := range map[string]int{
		`{"rules":{"busyIdle":"ringing"}}`:  422,
		`{"rules":{"debounce":"soon"}}`:     400,
		`{"rules":{"talkingInCall":"yes"}}`: 400,
		`{"rulez":{}}`:                      400,
	} {
		if code, out := f.do(t, "PUT", "/api/v1/mapping-rules", body); code != want || out["title"] == nil {
			t.Errorf("PUT %s: %d %v, want %d with a problem", body, code, out, want)
		}
	}
}
