package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"presencebridge/internal/jobs"
	"presencebridge/web"
)

// shutdown stops a role's parts in the order that loses nothing, all of it
// within PB_SHUTDOWN_TIMEOUT:
//
//  1. The HTTP server stops accepting connections, ends its event streams
//     (their clients reconnect to another instance and resume) and lets the
//     requests in flight finish, for at most three quarters of the time.
//     The intake committer still runs, so a Graph POST in flight gets its
//     commit and 202, or 503 if the database is gone (Graph retries), not
//     a connection cut at the deadline.
//  2. Then everything behind the server: the intake committer, the stream
//     hub, the processors, the deliverer and the engine are cancelled, and
//     River's jobs are stopped.
type shutdown struct {
	timeout time.Duration
	server  *web.Server
	stopRun context.CancelFunc // cancels step 2's parts
	parts   *errgroup.Group    // step 2's parts and the server's Serve
	jobs    *jobs.Client       // nil: this role works no jobs
}

// run shuts down. inTime says whether everything stopped within the
// timeout; when not, err names what did not (the exit code is then 1),
// and the caller must not wait for it: closing the database pool would
// wait for the connections those parts still hold. err also carries the
// failure of a part, if that is what started the shutdown.
func (s shutdown) run() (inTime bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	// The drain leaves a quarter of the time to what follows, which needs
	// a moment to stop even when every part heeds its context.
	drain, cancelDrain := context.WithTimeout(ctx, s.timeout*3/4)
	defer cancelDrain()
	var errs []error
	var late []string
	if err := s.server.Shutdown(drain); err != nil && drain.Err() != nil {
		late = append(late, err.Error())
	} else if err != nil {
		errs = append(errs, err)
	}
	s.stopRun()
	done := make(chan error, 1)
	go func() { done <- s.parts.Wait() }()
	if s.jobs != nil {
		if err := s.jobs.Shutdown(ctx); err != nil {
			late = append(late, err.Error())
		}
	}
	select {
	case err := <-done:
		errs = append(errs, err)
	case <-ctx.Done():
		select {
		case err := <-done: // stopped while the jobs took all the time
			errs = append(errs, err)
		default:
			late = append(late, "intake, delivery or engine workers still running")
		}
	}
	if len(late) > 0 {
		errs = append(errs, fmt.Errorf("shutdown did not finish within PB_SHUTDOWN_TIMEOUT (%s): %s", s.timeout, strings.Join(late, "; ")))
	}
	return len(late) == 0, errors.Join(errs...)
}

// abandon releases what a shutdown that ran out of time can: the embedded
// database stops (its fast shutdown ends the connections still in use);
// the pool is left to the process's exit, as closing it would wait for
// them.
func (a *app) abandon() {
	if a.pg != nil {
		if err := a.pg.Stop(); err != nil {
			a.logger.Warn("embedded PostgreSQL stop", "err", err)
		}
	}
}
