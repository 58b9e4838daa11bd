package presence

import (
	"context"
	"log/slog"
	"time"
)

// HeldPublisher publishes events whose debounce hold has ended
// (*store.Store).
type HeldPublisher interface {
	// PublishHeld publishes up to limit due events and says how long
	// until the next hold ends (negative: nothing is held).
	PublishHeld(ctx context.Context, limit int) (int, time.Duration, error)
}

// publishPoll bounds how late a hold is seen to end: a hold made after
// the wait began may end before the wait does (tenants have different
// windows). A quarter of a second costs a few cheap queries a second.
const publishPoll = 250 * time.Millisecond

// RunPublisher ends debounce holds as they fall due, until ctx ends: a
// change that left talking and was not followed by talking within the
// window is published then, on both channels at once.
func RunPublisher(ctx context.Context, p HeldPublisher, logger *slog.Logger) {
	const batch = 500
	for {
		n, wait, err := p.PublishHeld(ctx, batch)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil:
			logger.Warn("presence: publishing held events failed; retrying", "err", err)
			wait = time.Second
		case n == batch:
			continue
		case wait < 0 || wait > publishPoll:
			wait = publishPoll
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
