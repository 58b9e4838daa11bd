package faults

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graphsim"
)

// Graph is graphsim as its own process, driven through its control API
// (/_sim/…) as the suite's Microsoft 365: people change presence there,
// and it says which notifications it considers delivered.
type Graph struct {
	*Process
	URL  string
	Seed graphsim.Seed
}

// startGraph runs graphsim on a free port with seed (written to a file in
// dir, as --seed-file takes it), its notification journal on, and failed
// notification POSTs retried after retry doubling to 10×retry instead of
// Microsoft's 30 s and more (a scenario cannot wait minutes for them).
func startGraph(ctx context.Context, bin, dir string, seed graphsim.Seed, retry time.Duration) (*Graph, error) {
	file := filepath.Join(dir, "seed.json")
	b, _ := json.Marshal(seed)
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return nil, err
	}
	p, err := start("graphsim", bin, nil, "--addr", "127.0.0.1:0", "--seed-file", file, "--log-format", "json")
	if err != nil {
		return nil, err
	}
	g := &Graph{Process: p, Seed: seed}
	if g.URL, err = p.WaitURL(30 * time.Second); err != nil {
		p.Kill()
		return nil, err
	}
	steps := []struct {
		method, path string
		body         any
	}{
		{"POST", "/_sim/notifications/journal", map[string]bool{"enabled": true}},
		{"PUT", "/_sim/notifications/retry-schedule", map[string]int64{"firstDelayMs": retry.Milliseconds(), "maxDelayMs": 10 * retry.Milliseconds()}},
	}
	for _, s := range steps {
		if err := g.control(ctx, s.method, s.path, s.body, nil); err != nil {
			p.Kill()
			return nil, err
		}
	}
	return g, nil
}

// StartGraph is startGraph for other harnesses (the load run): graphsim
// from bin, seeded with seed, its journal on, retries after retry.
func StartGraph(ctx context.Context, bin, dir string, seed graphsim.Seed, retry time.Duration) (*Graph, error) {
	return startGraph(ctx, bin, dir, seed, retry)
}

// Control calls graphsim's control API; out, when not nil, receives the
// JSON answer.
func (g *Graph) Control(ctx context.Context, method, path string, body, out any) error {
	return g.control(ctx, method, path, body, out)
}

// control calls graphsim's control API; out, when not nil, receives the
// JSON answer.
func (g *Graph) control(ctx context.Context, method, path string, body, out any) error {
	_, err := callJSON(ctx, method, g.URL+path, nil, body, out)
	return err
}

// SetPresence is what the user's Teams clients show from now on.
func (g *Graph) SetPresence(ctx context.Context, user uuid.UUID, availability, activity string) error {
	return g.control(ctx, "POST", "/_sim/users/"+user.String()+"/presence",
		map[string]string{"availability": availability, "activity": activity}, nil)
}

// AddFault installs a notification fault (graphsim.NotificationFault)
// and returns its id.
func (g *Graph) AddFault(ctx context.Context, f graphsim.NotificationFault) (string, error) {
	var out graphsim.NotificationFault
	err := g.control(ctx, "POST", "/_sim/faults/notifications", f, &out)
	return out.ID, err
}

// RemoveFault ends a notification fault.
func (g *Graph) RemoveFault(ctx context.Context, id string) error {
	return g.control(ctx, "DELETE", "/_sim/faults/notifications/"+id, nil, nil)
}

// Journal is every change notification graphsim made since it started,
// with its POSTs and acknowledgements.
func (g *Graph) Journal(ctx context.Context) (graphsim.Journal, error) {
	var j graphsim.Journal
	err := g.control(ctx, "GET", "/_sim/notifications/journal", nil, &j)
	return j, err
}

// Stats are graphsim's delivery counters.
func (g *Graph) Stats(ctx context.Context) (graphsim.NotificationStats, error) {
	var s graphsim.NotificationStats
	err := g.control(ctx, "GET", "/_sim/stats", nil, &s)
	return s, err
}

// Subscriptions are the live subscriptions.
func (g *Graph) Subscriptions(ctx context.Context) ([]graphsim.Subscription, error) {
	var subs []graphsim.Subscription
	err := g.control(ctx, "GET", "/_sim/subscriptions", nil, &subs)
	return subs, err
}
