package writeback

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"presencebridge/internal/engine"
	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/graphsim"
	"presencebridge/internal/graphsim/simtest"
	"presencebridge/internal/identity"
	"presencebridge/internal/retryafter"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// The Writer is tested against graphsim over HTTP and a real PostgreSQL,
// with the engine's own GraphClients (token cache, roles, consent URL) and
// real client-credentials tokens. Only the last step differs from
// production: msgraph-sdk-go may be linked by internal/graph and
// internal/engine/enginetest alone (make check-graph-deps), so the wire
// client below sends the same five requests graph.Client sends, as plain
// JSON. enginetest drives the Writer through the SDK itself, and through
// the notification pipeline.

func TestMain(m *testing.M) { testkit.Main(m) }

// env is simtest's graphsim with our store holding the Microsoft tenant
// as one of ours.
type env struct {
	*simtest.Env
	t      *testing.T
	st     *store.Store
	tenant uuid.UUID
	rec    *simtest.Recorder // every request the Writer's Graph client sent
	idc    *identity.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{Env: simtest.New(t), t: t, rec: &simtest.Recorder{}}
	pool := testkit.DB(t)
	e.tenant = storetest.Tenant(t, pool, "Contoso")
	testkit.Exec(t, pool, `UPDATE tenants SET ms_tenant_id = $2, status = 'active' WHERE id = $1`, e.tenant, e.Tenant.ID)
	e.st = store.New(pool, storetest.Ring(t))
	var err error
	if e.idc, err = identity.New(identity.Options{LoginURL: e.Base}); err != nil {
		t.Fatal(err)
	}
	return e
}

// clients are the engine's GraphClients for a tenant consented to app;
// our own registration is the seeded app.
func (e *env) clients(app graphsim.SeedApp) *engine.GraphClients {
	creds := func(context.Context, uuid.UUID) (identity.App, string, error) {
		return identity.App{ClientID: app.ClientID, ClientSecret: app.ClientSecret}, e.Tenant.ID.String(), nil
	}
	return engine.NewGraphClients(engine.ClientsOptions{Store: e.st, Credentials: creds, AppTokens: e.idc,
		ClientID: e.Seed.App.ClientID, ConsentURL: func(app identity.App, msTenant string) string {
			return e.idc.AdminConsentURL(app, msTenant, "https://bridge.example/onboarding/monitors/callback", "reconsent")
		},
		NewClient: func(token func(context.Context) (string, error)) (engine.Client, error) {
			return &wire{base: e.Base + "/v1.0", token: token, hc: &http.Client{Transport: e.rec}}, nil
		}})
}

// writer is a Writer for a tenant consented to app.
func (e *env) writer(app graphsim.SeedApp, change ...func(*Options)) *Writer {
	opts := Options{Clients: e.clients(app), Echoes: e.st}
	for _, f := range change {
		f(&opts)
	}
	return New(opts)
}

// teams is the user's presence as Graph shows it.
func (e *env) teams(user uuid.UUID) graphsim.Presence {
	e.t.Helper()
	hc := oauth2.NewClient(e.t.Context(), e.AppTokens(e.Seed.App))
	resp, err := hc.Get(e.Base + "/v1.0/users/" + user.String() + "/presence")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var p graphsim.Presence
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET presence: %d %v", resp.StatusCode, err)
	}
	return p
}

// echoes are the user's live echoes, as "Availability/Activity".
func (e *env) echoes(user uuid.UUID) []string {
	e.t.Helper()
	rows, err := e.st.Pool().Query(context.Background(), `SELECT availability || '/' || activity FROM presence_echo
		WHERE tenant_id = $1 AND user_object_id = $2 AND expires_at > now() ORDER BY 1`, e.tenant, user)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// wantUntouched fails the test when a write reached Graph or left an echo
// of user.
func (e *env) wantUntouched(user uuid.UUID) {
	e.t.Helper()
	if reqs := e.rec.Requests("/presence/"); len(reqs) != 0 {
		e.t.Errorf("Graph was asked to write: %+v", reqs)
	}
	if got := e.echoes(user); len(got) != 0 {
		e.t.Errorf("echoes recorded: %v", got)
	}
}

// wire is a graphapi.PresenceWriter over plain HTTP: graph.Client's
// requests and its *graphapi.Error for Graph's refusals, without the SDK.
// The engine's other methods are not used by the Writer and stay nil.
type wire struct {
	engine.Client
	base  string
	token func(context.Context) (string, error)
	hc    *http.Client
}

func (c *wire) SetPresence(ctx context.Context, userID, sessionID, availability, activity string, expires time.Duration) error {
	body := map[string]string{"sessionId": sessionID, "availability": availability, "activity": activity}
	if expires > 0 {
		body["expirationDuration"] = iso(expires)
	}
	return c.post(ctx, userID, "setPresence", body)
}

func (c *wire) ClearPresence(ctx context.Context, userID, sessionID string) error {
	return c.post(ctx, userID, "clearPresence", map[string]string{"sessionId": sessionID})
}

func (c *wire) SetPreferredPresence(ctx context.Context, userID, availability, activity string, expires time.Duration) error {
	body := map[string]string{"availability": availability, "activity": activity}
	if expires > 0 {
		body["expirationDuration"] = iso(expires)
	}
	return c.post(ctx, userID, "setUserPreferredPresence", body)
}

func (c *wire) ClearPreferredPresence(ctx context.Context, userID string) error {
	return c.post(ctx, userID, "clearUserPreferredPresence", map[string]string{})
}

func (c *wire) SetStatusMessage(ctx context.Context, userID, message string, expires time.Time) error {
	sm := map[string]any{"message": map[string]string{"content": message, "contentType": "text"}}
	if !expires.IsZero() {
		sm["expiryDateTime"] = map[string]string{"dateTime": expires.UTC().Format("2006-01-02T15:04:05"), "timeZone": "UTC"}
	}
	return c.post(ctx, userID, "setStatusMessage", map[string]any{"statusMessage": sm})
}

func (c *wire) post(ctx context.Context, userID, action string, body any) error {
	tok, err := c.token(ctx)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/users/"+userID+"/presence/"+action, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	raw, _ := io.ReadAll(resp.Body)
	var e struct {
		Error struct {
			Code, Message string
		}
	}
	json.Unmarshal(raw, &e)
	ge := &graphapi.Error{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message, RequestID: resp.Header.Get("request-id")}
	ge.RetryAfter, _ = retryafter.Parse(resp.Header.Get("Retry-After"))
	return fmt.Errorf("graph: %s of %s: %w", action, userID, ge)
}

func iso(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("PT%dH%dM%dS", int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second))
}
