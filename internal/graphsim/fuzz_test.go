package graphsim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The token endpoint answers any form with a success or the identity
// platform's error JSON, never a panic or a 5xx (go test -fuzz=FuzzTokenEndpoint).
func FuzzTokenEndpoint(f *testing.F) {
	seed := GenerateSeed(1, 2, 1, 7)
	sim := New(Options{BaseURL: "http://graphsim.test"})
	if err := sim.Apply(seed); err != nil {
		f.Fatal(err)
	}
	h := sim.Handler()
	ten, mon := seed.Tenants[0], seed.Tenants[0].Monitors[0]
	app := seed.App
	for _, form := range []string{
		"grant_type=password&client_id=" + app.ClientID + "&client_secret=" + app.ClientSecret + "&username=" + mon.UPN + "&password=" + mon.Password + "&scope=https://graph.microsoft.com/.default",
		"grant_type=client_credentials&client_id=" + app.ClientID + "&client_secret=" + app.ClientSecret + "&scope=https://graph.microsoft.com/.default",
		"grant_type=authorization_code&client_id=" + app.ClientID + "&code=0.Axyz&code_verifier=short&redirect_uri=https://x",
		"grant_type=refresh_token&client_id=" + app.ClientID + "&refresh_token=1.Aabc",
		"grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer",
		"client_id=%zz&grant_type",
		"",
	} {
		f.Add(ten.ID.String(), form)
		f.Add("common", form)
	}
	f.Add(ten.Domain, "grant_type=password&username=&password=")
	f.Fuzz(func(t *testing.T, tenant, form string) {
		if strings.ContainsAny(tenant, "/?#%") || tenant == "" {
			tenant = "organizations"
		}
		req := httptest.NewRequest("POST", "/"+url.PathEscape(tenant)+"/oauth2/v2.0/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("status %d, body not JSON: %q", rec.Code, rec.Body.String())
		}
		switch {
		case rec.Code == http.StatusOK:
			if body["access_token"] == nil {
				t.Fatalf("200 without access_token: %v", body)
			}
		case rec.Code == http.StatusBadRequest || rec.Code == http.StatusUnauthorized:
			if body["error"] == nil || body["error_codes"] == nil || !strings.HasPrefix(str(body["error_description"]), "AADSTS") {
				t.Fatalf("%d without the identity platform's error body: %v", rec.Code, body)
			}
		default:
			t.Fatalf("status %d: %v", rec.Code, body)
		}
	})
}

// Presence endpoints answer malformed bodies with Graph errors (4xx and
// the OData error JSON), never a panic or a 5xx.
func FuzzPresenceRequests(f *testing.F) {
	seed := GenerateSeed(1, 2, 1, 7)
	seed.App.Application = append(append([]string{}, DefaultApplication...), "Presence.ReadWrite.All")
	now := time.Now()
	sim := New(Options{BaseURL: "http://graphsim.test", Clock: func() time.Time { return now }})
	if err := sim.Apply(seed); err != nil {
		f.Fatal(err)
	}
	sim.SetThrottleLimit("presence", ThrottleLimit{Requests: 1 << 30, Window: time.Second})
	h := sim.Handler()
	ten := seed.Tenants[0]
	sim.mu.Lock()
	token := sim.signer.sign(jwt.MapClaims(sim.accessToken(sim.tenants[ten.ID], sim.apps[seed.App.ClientID], nil, nil, seed.App.Application, now)))
	sim.mu.Unlock()
	user := ten.Users[0].ID.String()
	for _, c := range []struct{ path, body string }{
		{"/v1.0/communications/getPresencesByUserId", `{"ids":["` + user + `"]}`},
		{"/v1.0/communications/getPresencesByUserId", `{"ids":[1,2]}`},
		{"/v1.0/communications/getPresencesByUserId", `{"ids":"x"}`},
		{"/v1.0/users/" + user + "/presence/setPresence", `{"sessionId":"` + seed.App.ClientID + `","availability":"Busy","activity":"InACall","expirationDuration":"PT1H"}`},
		{"/v1.0/users/" + user + "/presence/setPresence", `{"expirationDuration":"P99999999999999999999D"}`},
		{"/v1.0/users/" + user + "/presence/setUserPreferredPresence", `{"availability":"Away","activity":"Away","expirationDuration":"PT0S"}`},
		{"/v1.0/users/" + user + "/presence/setStatusMessage", `{"statusMessage":{"message":{"content":"x"},"expiryDateTime":{"dateTime":"","timeZone":""}}}`},
		{"/v1.0/users/" + user + "/presence/setStatusMessage", `{"statusMessage":{"message":{"content":"x"},"expiryDateTime":{"dateTime":"2030-01-01T00:00:00","timeZone":"Local"}}}`},
		{"/v1.0/users/" + user + "/presence/clearPresence", `{}`},
		{"/v1.0/users/('x')/presence/clearUserPreferredPresence", `null`},
	} {
		f.Add(c.path, c.body)
	}
	f.Fuzz(func(t *testing.T, path, body string) {
		if !strings.HasPrefix(path, "/v1.0/") || strings.ContainsAny(path, " \r\n\t#") {
			return
		}
		if _, err := url.ParseRequestURI(path); err != nil {
			return
		}
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("POST %s %q: status %d %s", path, body, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 {
			var e graphError
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" {
				t.Fatalf("POST %s: %d without a Graph error body: %q", path, rec.Code, rec.Body.String())
			}
		}
	})
}
