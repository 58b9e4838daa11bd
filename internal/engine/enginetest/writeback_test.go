package enginetest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/engine"
	"presencebridge/internal/graph"
	"presencebridge/internal/graphsim"
	"presencebridge/internal/graphsim/simtest"
	"presencebridge/internal/identity"
	"presencebridge/internal/writeback"
)

// Writing presence back into Teams as production does it: the engine's
// GraphClients (app-only token, its roles, the app's client id as the
// session id) over the SDK-backed client with the SDK's retries on, and
// what Graph reports back through our receiver and processor.

// writer is the Writer over the product's Graph clients; the recorder
// sees every request under the SDK's middleware.
func (b *bridge) writer(t *testing.T) (*writeback.Writer, *simtest.Recorder) {
	t.Helper()
	rec := &simtest.Recorder{}
	creds := func(context.Context, uuid.UUID) (identity.App, string, error) { return b.app, b.ten.ID.String(), nil }
	gc := engine.NewGraphClients(engine.ClientsOptions{Store: b.st, Credentials: creds, AppTokens: b.idc, ClientID: b.app.ClientID,
		NewClient: func(token func(context.Context) (string, error)) (engine.Client, error) {
			return graph.New(graph.Options{BaseURL: b.e.Base + "/v1.0", Token: token, Transport: rec})
		}})
	return writeback.New(writeback.Options{Clients: gc, Echoes: b.st}), rec
}

// deliveriesOf counts the deliveries queued for a user's events: what was
// published to the platform.
func (b *bridge) deliveriesOf(user uuid.UUID) int {
	var n int
	if err := b.pool.QueryRow(context.Background(), `SELECT count(*) FROM deliveries WHERE tenant_id = $1 AND user_object_id = $2`,
		b.tenant, user).Scan(&n); err != nil {
		b.t.Fatal(err)
	}
	return n
}

func TestAPresenceSetThroughTheWriterComesBackAsAnEchoAndIsNotPublished(t *testing.T) {
	b := newBridge(t, bridgeOptions{users: 5, monitors: 1, authorized: 1, pipeline: true})
	ctx := t.Context()
	if _, _, err := b.worker(0, nil).runner.Tenant(ctx, b.tenant); err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.CreateEndpoint(ctx, b.tenant, "https://platform.example/hook", "whsec_test"); err != nil {
		t.Fatal(err)
	}
	w, _ := b.writer(t)
	agent, other := b.ten.Users[0].ID, b.ten.Users[1].ID

	// The platform says the agent is on a call.
	if _, err := w.SetPresence(ctx, b.tenant, agent, writeback.SetRequest{Availability: "Busy", Activity: "InACall"}); err != nil {
		t.Fatal(err)
	}
	// The same change made in Teams by another user, as the control: it
	// travels the same way and is published.
	if err := b.e.Sim.SetTeamsPresence(other, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both calls in the presence table", func() bool {
		a1, act1 := b.held(agent)
		a2, act2 := b.held(other)
		return a1 == "Busy" && act1 == "InACall" && a2 == "Busy" && act2 == "InACall"
	})
	var source, suppressed string
	if err := b.pool.QueryRow(ctx, `SELECT source, coalesce(suppressed, '') FROM presence_events WHERE tenant_id = $1 AND user_object_id = $2
		ORDER BY id DESC LIMIT 1`, b.tenant, agent).Scan(&source, &suppressed); err != nil {
		t.Fatal(err)
	}
	if source != "echo" || suppressed != "echo" {
		t.Errorf("the agent's change is kept as source %q, suppressed %q; want an echo", source, suppressed)
	}
	if n := b.deliveriesOf(agent); n != 0 {
		t.Errorf("%d deliveries of the echo, want none", n)
	}
	if n := b.deliveriesOf(other); n != 1 {
		t.Errorf("%d deliveries of the Teams call, want 1", n)
	}
}

// The SDK's retry handler stays out of presence writes: each 429 reaches
// the Writer, which waits Retry-After within the deadline and sends again.
func TestTheWriterWaitsOutA429StormThroughTheSDK(t *testing.T) {
	b := newBridge(t, bridgeOptions{users: 3, monitors: 1})
	w, rec := b.writer(t)
	u := b.ten.Users[2].ID
	b.e.Sim.AddThrottleFault(graphsim.ThrottleFault{AppID: b.app.ClientID, Class: "presence", RetryAfter: 1, Times: 2})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res, err := w.SetPresence(ctx, b.tenant, u, writeback.SetRequest{Availability: "Busy", Activity: "InAConferenceCall"})
	if err != nil {
		t.Fatal(err)
	}
	reqs := rec.Requests("/setPresence")
	if res.Attempts != 3 || len(reqs) != 3 || reqs[0].Status != http.StatusTooManyRequests || reqs[2].Status != http.StatusOK {
		t.Fatalf("%d attempts, requests %+v; want 3, the first two throttled", res.Attempts, reqs)
	}
}
