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
	if err := sim.Apply(seed); err != nil {
		if o.seedFile != "" {
			return fmt.Errorf("--seed-file %s: %w", o.seedFile, err)
		}
		return fmt.Errorf("seed: %w", err)
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
		printSummary(stdout, base, seed)
	}
	logger.Info("graphsim started", "url", base, "tenants", len(seed.Tenants))

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	stopRun()
	<-ran
	logger.Info("graphsim stopped")
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
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
