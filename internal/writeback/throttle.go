package writeback

import (
	"context"
	"time"

	"presencebridge/internal/graph/graphapi"
)

// Waiting out Graph's throttling (docs/graph.md#throttling): a 429 (or a
// 503 or 504) says in Retry-After how long to wait; without it the wait
// doubles from a second. Each wait must end, and leave room for the
// request itself, before the caller's deadline; otherwise the caller is
// told when to try again instead (ThrottledError), rather than blocked
// until its deadline passes with nothing to show.

// requestRoom is left before the deadline for the request sent after a wait.
const requestRoom = time.Second

const (
	firstBackoff = time.Second
	maxBackoff   = 30 * time.Second
)

// retry calls send until Graph takes it, refuses it for a reason other
// than throttling, or throttles it for longer than the deadline allows. It
// returns the attempts made.
func (w *Writer) retry(ctx context.Context, send func(context.Context) error) (int, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = w.opts.Now().Add(w.opts.MaxWait)
	}
	backoff := firstBackoff
	for attempts := 1; ; attempts++ {
		err := send(ctx)
		if err == nil || !graphapi.IsThrottled(err) {
			return attempts, err
		}
		wait := graphapi.RetryAfter(err)
		if wait <= 0 {
			wait, backoff = backoff, min(2*backoff, maxBackoff)
		}
		at := w.opts.Now().Add(wait)
		if at.Add(requestRoom).After(deadline) {
			return attempts, &ThrottledError{RetryAt: at, Attempts: attempts, Err: err}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return attempts, &ThrottledError{RetryAt: at, Attempts: attempts, Err: err}
		case <-t.C:
		}
	}
}
