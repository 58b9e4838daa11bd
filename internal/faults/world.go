package faults

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/testkit/freeport"
)

// Options shape a scenario's world.
type Options struct {
	// Users is how many of the tenant's people are monitored (default 8).
	Users int
	// Split runs the product as one web and Workers worker processes
	// (default 1) instead of one serve process.
	Split   bool
	Workers int
	// Env holds further PB_* settings for every product process.
	Env []string
	// GraphRetry is graphsim's first retry of a failed notification POST
	// (doubling to ten times it; default 250 ms, Microsoft's is 30 s).
	GraphRetry time.Duration
}

// World is one scenario's world, all on loopback: PostgreSQL behind a
// proxy, graphsim, the product's processes behind a front proxy (where
// graphsim's notifications and the suite's API calls arrive), one tenant
// onboarded with its users monitored, and the telephony platform's
// recording receiver.
type World struct {
	T        testing.TB
	Opts     Options
	Bin      Binaries
	PG       *Postgres
	Graph    *Graph
	Front    *Front // in front of the web role: BaseURL
	Receiver *Receiver
	BaseURL  string
	Tenant   uuid.UUID
	APIKey   string
	Users    []graphsim.SeedUser

	webAddr string // where serve or web listens, behind Front
	dir     string

	mu    sync.Mutex
	procs map[string]*Process
}

// sealKey is the seal key of every product process of the suite (and of
// the suite's own store, which opens what they seal).
const sealKey = "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

// Start builds the world for t and onboards its tenant; everything stops
// when t ends. It returns once every user's first state (the engine's
// first re-read) has reached the receiver, so the pipeline is known to
// work before a fault is injected.
func Start(t testing.TB, opts Options) *World {
	t.Helper()
	if opts.Users == 0 {
		opts.Users = 8
	}
	if opts.Workers == 0 {
		opts.Workers = 1
	}
	if opts.GraphRetry == 0 {
		opts.GraphRetry = 250 * time.Millisecond
	}
	bin, err := Build()
	if err != nil {
		t.Fatalf("faults: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	began := time.Now()
	phase := func(what string) { t.Logf("faults: %s at %s", what, time.Since(began).Round(time.Millisecond)) }
	w := &World{T: t, Opts: opts, Bin: bin, procs: map[string]*Process{}}
	if w.dir, err = os.MkdirTemp("", "pb-faults-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(w.dir) })
	if w.PG, err = StartPostgres(ctx); err != nil {
		t.Fatalf("faults: %v", err)
	}
	t.Cleanup(w.PG.Close)
	phase("PostgreSQL up")
	// Known before the web role starts: it comes back on the same port.
	if w.webAddr, err = freeport.Addr(); err != nil {
		t.Fatal(err)
	}
	if w.Front, err = NewFront(w.webAddr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Front.Close)
	w.BaseURL = w.Front.URL
	if w.Receiver, err = NewReceiver(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Receiver.Close)

	seed := graphsim.GenerateSeed(1, opts.Users, 2, 15) // onboarding wants a spare monitor
	seed.App.RedirectURIs = []string{w.BaseURL + "/onboarding/consent/callback", w.BaseURL + "/onboarding/monitors/callback"}
	seed.Tenants[0].Consented = false
	if w.Graph, err = startGraph(ctx, bin.Graphsim, w.dir, seed, opts.GraphRetry); err != nil {
		t.Fatalf("faults: %v", err)
	}
	t.Cleanup(func() { w.Graph.Stop(10 * time.Second) })
	w.Users = seed.Tenants[0].Users
	phase("graphsim up")

	// Stopped before the proxies and PostgreSQL (cleanups run last first).
	t.Cleanup(w.stopAll)
	if opts.Split {
		w.StartRole("web")
		for i := range opts.Workers {
			w.StartRole(fmt.Sprintf("worker-%d", i+1))
		}
	} else {
		w.StartRole("serve")
	}
	phase("product ready")
	if err := w.onboard(ctx); err != nil {
		t.Fatalf("faults: onboarding: %v\n%s", err, w.Logs())
	}
	phase("tenant onboarded")
	if !w.Receiver.WaitFor(ctx, func(a []Arrival) bool { return len(usersSeen(a)) == len(w.Users) }) {
		t.Fatalf("faults: the users' first states did not all reach the receiver (%d of %d)\n%s",
			len(usersSeen(w.Receiver.Arrivals())), len(w.Users), w.Logs())
	}
	phase("tenant onboarded, every user's first state received")
	return w
}

func usersSeen(arrivals []Arrival) map[uuid.UUID]bool {
	seen := map[uuid.UUID]bool{}
	for _, a := range arrivals {
		seen[a.User] = true
	}
	return seen
}

// StartRole starts a product process, named for its role ("serve",
// "web", or "worker" with any suffix: "worker-2"), and waits until it is
// ready. serve and web listen behind Front, on the same port each time,
// so a restarted web role is where Graph already sends.
func (w *World) StartRole(name string) *Process {
	w.T.Helper()
	role, _, _ := strings.Cut(name, "-")
	addr := "127.0.0.1:0"
	if role == "serve" || role == "web" {
		addr = w.webAddr
	}
	db, err := w.PG.Proxy(name)
	if err != nil {
		w.T.Fatalf("faults: %v", err)
	}
	env := append([]string{"PB_ENV=development", "PB_SEAL_KEYS=" + sealKey, "PB_DATABASE_URL=" + DSN(db),
		"PB_LOGIN_BASE_URL=" + w.Graph.URL, "PB_GRAPH_BASE_URL=" + w.Graph.URL,
		"PB_MS_CLIENT_ID=" + w.Graph.Seed.App.ClientID, "PB_MS_CLIENT_SECRET=" + w.Graph.Seed.App.ClientSecret,
		"PB_ENGINE_INTERVAL=1s", "PB_REPAIR_INTERVAL=1h", "PB_HTTP_ADDR=" + addr, "PB_BASE_URL=" + w.BaseURL,
		"PB_LOG_FORMAT=json", "PB_DATA_DIR=" + w.dir}, w.Opts.Env...)
	p, err := start(name, w.Bin.Product, env, role)
	if err != nil {
		w.T.Fatalf("faults: %v", err)
	}
	w.mu.Lock()
	w.procs[name] = p
	w.mu.Unlock()
	url, err := p.WaitURL(60 * time.Second)
	if err != nil {
		w.T.Fatalf("faults: %v", err)
	}
	if err := waitReady(context.Background(), url+"/readyz", 30*time.Second); err != nil {
		w.T.Fatalf("faults: %s: %v\n%s", name, err, p.Log())
	}
	return p
}

// Proc is the product process called name.
func (w *World) Proc(name string) *Process {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.procs[name]
	if p == nil {
		w.T.Fatalf("faults: no process %q", name)
	}
	return p
}

// Kill SIGKILLs the product process called name.
func (w *World) Kill(name string) {
	w.T.Helper()
	w.T.Logf("SIGKILL %s", name)
	w.Proc(name).Kill()
}

// StillRunning fails t if the product process called name has exited:
// a fault the product must ride out, not die of.
func (w *World) StillRunning(t testing.TB, name string) {
	t.Helper()
	select {
	case <-w.Proc(name).Exited():
		t.Errorf("%s exited during the scenario:\n%s", name, w.Proc(name).lastLines(30))
	default:
	}
}

// Logs are the last lines of every product process, for failures.
func (w *World) Logs() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	for name, p := range w.procs {
		fmt.Fprintf(&b, "--- %s\n%s\n", name, p.lastLines(40))
	}
	return b.String()
}

// stopAll stops the product processes still running. Their exit is not
// judged here (the SIGTERM scenario judges it): a shutdown failure would
// otherwise fail every scenario, not the one about it.
func (w *World) stopAll() {
	w.mu.Lock()
	procs := w.procs
	w.mu.Unlock()
	var wg sync.WaitGroup
	for name, p := range procs {
		wg.Go(func() {
			if err := p.Stop(30 * time.Second); err != nil {
				w.T.Logf("faults: %s at the end: %v", name, err)
			}
		})
	}
	wg.Wait()
}
