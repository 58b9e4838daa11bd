package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"presencebridge/internal/graphsim"
)

// With --state, what the control API changed outlives a restart, as the
// cloud it emulates never forgets: a tenant generated and consented, an
// account added, a consent withdrawn (the seed, applied again, does not
// grant it back). A start without --state forgets all of it. (Shown to
// fail with the flag ignored: the tenant made before the restart is 404.)
func TestStateFileKeepsTheControlAPIsChangesAcrossARestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "graphsim.json")
	args := []string{"--users-per-tenant", "3", "--state", file}
	seed := graphsim.GenerateSeed(1, 3, 2, defaultSeed)
	seeded, app := seed.Tenants[0], seed.App

	r, base := start(t, args...)
	if summary := r.rest(t); !strings.Contains(summary, "kept in "+file) {
		t.Errorf("summary does not say where the state is kept:\n%s", summary)
	}
	var made graphsim.SeedTenant
	if code, body := call(t, "POST", base+"/_sim/tenants", `{"users": 2, "monitors": 1, "consentFor": "`+app.ClientID+`"}`); code != http.StatusCreated ||
		json.Unmarshal(body, &made) != nil {
		t.Fatalf("POST /_sim/tenants: %d %s", code, body)
	}
	if code, body := call(t, "POST", base+"/_sim/tenants/"+seeded.ID.String()+"/users",
		`{"upn": "newcomer@`+seeded.Domain+`", "displayName": "Newcomer", "password": "Newcomer-1"}`); code != http.StatusCreated {
		t.Fatalf("POST users: %d %s", code, body)
	}
	if code, body := call(t, "DELETE", base+"/_sim/tenants/"+seeded.ID.String()+"/grants/"+app.ClientID, ""); code != http.StatusNoContent {
		t.Fatalf("DELETE grant: %d %s", code, body)
	}
	stop(t, r)
	if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("state file after stop: %v %v, want mode 0600", info, err)
	}

	r, base = start(t, args...)
	if summary := r.rest(t); !strings.Contains(summary, "restored from "+file) {
		t.Errorf("summary does not say the state was restored:\n%s", summary)
	}
	if code, body := call(t, "GET", base+"/_sim/tenants/"+made.ID.String(), ""); code != http.StatusOK {
		t.Fatalf("the tenant made before the restart: %d %s", code, body)
	}
	if code := appToken(t, base, made.ID.String(), app); code != http.StatusOK {
		t.Errorf("app-only token for the tenant consented before the restart: status %d, want 200", code)
	}
	var got struct {
		Consents []json.RawMessage `json:"consents"`
		Users    []struct {
			UPN string `json:"upn"`
		} `json:"users"`
	}
	if code, body := call(t, "GET", base+"/_sim/tenants/"+seeded.ID.String(), ""); code != http.StatusOK || json.Unmarshal(body, &got) != nil {
		t.Fatalf("GET the seeded tenant: %d %s", code, body)
	}
	var newcomer bool
	for _, u := range got.Users {
		newcomer = newcomer || u.UPN == "newcomer@"+seeded.Domain
	}
	if !newcomer || len(got.Consents) != 0 {
		t.Errorf("seeded tenant after the restart: newcomer %v, %d consents; want the newcomer and the consent still withdrawn", newcomer, len(got.Consents))
	}
	if code := appToken(t, base, seeded.ID.String(), app); code == http.StatusOK {
		t.Error("app-only token for the tenant whose consent was withdrawn: 200, want it refused")
	}
	stop(t, r)

	// The control: without --state, graphsim starts from the seed alone.
	r, base = start(t, "--users-per-tenant", "3")
	r.rest(t)
	if code, _ := call(t, "GET", base+"/_sim/tenants/"+made.ID.String(), ""); code != http.StatusNotFound {
		t.Errorf("without --state, the tenant made before: status %d, want 404", code)
	}
}

// A --state path that cannot be written is reported at start, before
// anything listens, not when graphsim stops.
func TestUnwritableStateFileExitsWithOneClearLine(t *testing.T) {
	file := filepath.Join(t.TempDir(), "missing-dir", "graphsim.json")
	fails(t, []string{"--state", file}, "--state", "no such file or directory")
}

// call sends a control API request and returns the status and body.
func call(t *testing.T, method, u, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// appToken asks the tenant's token endpoint for an app-only token.
func appToken(t *testing.T, base, tenant string, app graphsim.SeedApp) int {
	t.Helper()
	resp, err := http.PostForm(base+"/"+tenant+"/oauth2/v2.0/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {app.ClientID}, "client_secret": {app.ClientSecret}, "scope": {"https://graph.microsoft.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
