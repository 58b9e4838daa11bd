package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graphsim"
	"presencebridge/web/api/apitest"
)

// The telephony platform writes presence into Teams through the API, on
// the product as deployed (one serve process, graphsim for Microsoft):
// a call shows as Busy/InACall in Teams and the change Teams then notifies
// is not sent back to the platform, while a change made in Teams is; a
// pair Graph refuses is 422 naming the allowed ones; a 429 storm within
// the request's time is waited out; beyond it the write is accepted (202)
// and a job carries it out once Graph's Retry-After has passed.
func TestPresenceWrittenThroughTheAPIShowsInTeamsAndIsNotSentBack(t *testing.T) {
	ctx := t.Context()
	const product = "https://bridge.example.com"
	sim := graphsim.New(graphsim.Options{})
	gs := httptest.NewServer(sim.Handler())
	t.Cleanup(gs.Close)
	sim.SetBaseURL(gs.URL)
	go sim.Run(ctx)
	seed := graphsim.GenerateSeed(1, 3, 2, 43)
	seed.App.RedirectURIs = []string{product + "/onboarding/consent/callback", product + "/onboarding/monitors/callback"}
	if !slices.Contains(seed.App.Application, "Presence.ReadWrite.All") {
		seed.App.Application = append(seed.App.Application, "Presence.ReadWrite.All")
	}
	seed.Tenants[0].Consented = false
	if err := sim.Apply(seed); err != nil {
		t.Fatal(err)
	}
	ten := seed.Tenants[0]
	adele, bob := ten.Users[0], ten.Users[1]

	var mu sync.Mutex
	var hooks []string
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hooks = append(hooks, string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(platform.Close)
	delivered := func(user uuid.UUID, activity string) bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.ContainsFunc(hooks, func(b string) bool {
			return strings.Contains(b, user.String()) && strings.Contains(b, `"`+activity+`"`)
		})
	}

	dsn := freshDatabase(t, "writeback")
	proc := startServe(t, dsn, gs.URL, seed.App)
	base := proc.waitReady(t, 30*time.Second)
	svc, pool := onboardingOn(t, dsn, gs.URL, product, seed.App)
	tenant := onboard(t, svc, ten, platform.URL+"/presence")
	apiKey, err := svc.NewAPIKey(ctx, tenant, "platform", "admin")
	if err != nil {
		t.Fatal(err)
	}
	client := apitest.Client(t, base) // every answer checked against the API's description
	call := func(method, path, body string) (int, map[string]any, http.Header) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out, resp.Header
	}
	eventually := func(what string, within time.Duration, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(within); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v; output:\n%s", what, within, proc.log())
			}
		}
	}
	// The users are monitored once the engine resolved and subscribed them.
	eventually("users resolved and subscribed", 30*time.Second, func() bool {
		var resolved, subs int
		pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM directory_users WHERE tenant_id = $1 AND object_id IS NOT NULL),
			(SELECT count(*) FROM subscriptions WHERE tenant_id = $1 AND graph_id IS NOT NULL)`, tenant).Scan(&resolved, &subs)
		return resolved == len(ten.Users) && subs > 0
	})
	storedActivity := func(user uuid.UUID) string {
		var a string
		pool.QueryRow(ctx, `SELECT activity FROM presence WHERE tenant_id = $1 AND user_object_id = $2`, tenant, user).Scan(&a)
		return a
	}

	// The tenant's status names the roles its consent granted, the write's
	// among them (read from its app-only token).
	code, out, _ := call("GET", "/api/v1/tenant", "")
	if b, _ := json.Marshal(out); code != 200 || !strings.Contains(string(b), "Presence.ReadWrite.All") {
		t.Errorf("GET /tenant: %d %s", code, b)
	}

	code, out, _ = call("PUT", "/api/v1/users/"+adele.ID.String()+"/presence", `{"availability":"Busy","activity":"InACall"}`)
	if code != 200 || out["activity"] != "InACall" || out["expiresAt"] == nil {
		t.Fatalf("PUT presence: %d %v; output:\n%s", code, out, proc.log())
	}
	// Teams notifies the change; we store it, and send it nowhere.
	eventually("adele's call reaching us from Teams", 15*time.Second, func() bool { return storedActivity(adele.ID) == "InACall" })
	if err := sim.SetTeamsPresence(bob.ID, "Busy", "InAConferenceCall"); err != nil {
		t.Fatal(err)
	}
	eventually("bob's Teams change at the platform", 15*time.Second, func() bool { return delivered(bob.ID, "InAConferenceCall") })
	if delivered(adele.ID, "InACall") {
		t.Error("the presence the platform set came back to it as if from Teams")
	}

	code, out, _ = call("PUT", "/api/v1/users/"+adele.ID.String()+"/presence", `{"availability":"Available","activity":"InACall"}`)
	if b, _ := json.Marshal(out); code != 422 || !strings.Contains(string(b), "Busy/InACall") {
		t.Errorf("an invalid pair: %d %s, want 422 naming the allowed pairs", code, b)
	}

	// Throttled twice, a second each: waited out within the request.
	sim.AddThrottleFault(graphsim.ThrottleFault{AppID: seed.App.ClientID, Class: "presence", RetryAfter: 1, Times: 2})
	code, out, _ = call("PUT", "/api/v1/users/"+bob.ID.String()+"/presence", `{"availability":"DoNotDisturb","activity":"Presenting"}`)
	if code != 200 || out["attempts"] != float64(3) {
		t.Errorf("through a short 429 storm: %d %v, want 200 after 3 attempts", code, out)
	}

	// Throttled for longer than the request may wait: accepted, and done
	// by a job after Graph's Retry-After.
	sim.AddThrottleFault(graphsim.ThrottleFault{AppID: seed.App.ClientID, Class: "presence", RetryAfter: 12, Times: 1})
	code, out, header := call("PUT", "/api/v1/users/"+adele.ID.String()+"/presence", `{"availability":"Away","activity":"Away"}`)
	if code != 202 || out["status"] != "pending" || !strings.HasPrefix(header.Get("Location"), "/api/v1/operations/") {
		t.Fatalf("through a long 429: %d %v %v; output:\n%s", code, out, header, proc.log())
	}
	op := header.Get("Location")
	eventually("the accepted write's operation", 40*time.Second, func() bool {
		_, o, _ := call("GET", op, "")
		if o["status"] == "failed" {
			t.Fatalf("the operation failed: %v", o)
		}
		return o["status"] == "succeeded"
	})
	eventually("adele away in Teams", 15*time.Second, func() bool { return storedActivity(adele.ID) == "Away" })
}
