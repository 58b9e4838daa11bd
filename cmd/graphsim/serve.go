package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"

	"presencebridge/internal/graphsim"
)

// serve seeds a Sim, listens, prints the base URL and what was created, and
// serves until ctx ends. The seed is applied before listening, so a bad
// seed holds no port and prints nothing on stdout.
func serve(ctx context.Context, o options, stdout, stderr io.Writer) error {
	logger := newLogger(o.logFormat, stderr)
	seed, err := buildSeed(o)
	if err != nil {
		return err
	}
	sim := graphsim.New(graphsim.Options{Logger: logger})
	sim.AllowHTTPNotifications(o.httpNotifyHosts...)
	restored, err := populate(sim, seed, o)
	if err != nil {
		return err
	}
	ln, err := listen(o.addr)
	if err != nil {
		return err
	}
	base := o.baseURL
	if base == "" {
		base = localURL(ln.Addr().(*net.TCPAddr))
	}
	sim.SetBaseURL(base)
	base = sim.BaseURL() // without a trailing slash

	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	ran := make(chan struct{})
	go func() { sim.Run(runCtx); close(ran) }()
	stopSaving := keepState(sim, o.stateFile)
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	fmt.Fprintln(stdout, base)
	if o.printSeed {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(seed); err != nil {
			return err
		}
	} else {
		printSummary(stdout, base, seed, state{file: o.stateFile, restored: restored})
	}
	logger.Info("graphsim started", "url", base, "tenants", len(seed.Tenants), "state", o.stateFile, "restored", restored)

	select {
	case err := <-served:
		return errors.Join(fmt.Errorf("serve: %w", err), stopSaving())
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	stopRun()
	<-ran
	// Saved last: the requests drained by Shutdown are in it.
	saveErr := stopSaving()
	logger.Info("graphsim stopped", "state", o.stateFile)
	if err != nil {
		return errors.Join(fmt.Errorf("shutdown: %w", err), saveErr)
	}
	return saveErr
}

// saveEvery is how often a changed state is written to --state, as
// presencebridge dev writes its graphsim.json.
const saveEvery = time.Second

// populate gives the Sim its directory: the seed, or with --state the
// file's state (when it exists) and what that lacks of the seed
// (Sim.ApplyMissing: a tenant restored stays as it was left). The state is
// saved right away, so a path that cannot be written is reported before
// anything listens, not when graphsim stops.
func populate(sim *graphsim.Sim, seed graphsim.Seed, o options) (restored bool, err error) {
	if o.stateFile != "" {
		if restored, err = sim.Load(o.stateFile); err != nil {
			return false, fmt.Errorf("--state: %w", err)
		}
	}
	apply := sim.Apply
	if restored {
		apply = sim.ApplyMissing
	}
	if err := apply(seed); err != nil {
		if o.seedFile != "" {
			return false, fmt.Errorf("--seed-file %s: %w", o.seedFile, err)
		}
		return false, fmt.Errorf("seed: %w", err)
	}
	if o.stateFile != "" {
		if err := sim.Save(o.stateFile); err != nil {
			return false, fmt.Errorf("--state: %w", err)
		}
	}
	return restored, nil
}

// keepState writes the Sim's state to file within saveEvery of a change
// (Sim.Persist) until stop, which writes it a last time and waits for
// that. Without a file there is nothing to keep.
func keepState(sim *graphsim.Sim, file string) (stop func() error) {
	if file == "" {
		return func() error { return nil }
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Persist(ctx, file, saveEvery) }()
	return func() error {
		cancel()
		if err := <-done; err != nil {
			return fmt.Errorf("--state: the state was not saved: %w", err)
		}
		return nil
	}
}

func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("--addr %s is already in use (another graphsim running?): stop it or choose another port", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("--addr: cannot listen on %s: %v", addr, err)
	}
	return ln, nil
}

// localURL is the URL of a bound address. An unspecified address (0.0.0.0,
// ::) is not something to connect to: this host reaches it on 127.0.0.1.
func localURL(a *net.TCPAddr) string {
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(a.Port))
}

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}
