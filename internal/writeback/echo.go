package writeback

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/presence"
)

// withEcho sends a write that sets pair, recording the echo before each
// attempt: the intake may apply Graph's report of the change before the
// write returns, and a wait for Retry-After must not outlast the echo.
//
// When Graph refused the write (it answered, with an error), nothing
// changed in Teams and the echo is withdrawn: left in place, it would hide
// a real change to the same state, the user joining a Teams call say. When
// Graph did not answer (the connection or the deadline failed mid-request)
// the write may have happened, and the echo stays.
func (w *Writer) withEcho(ctx context.Context, tenantID, userID uuid.UUID, pair presence.Pair, send func(context.Context) error) (int, error) {
	attempts, err := w.retry(ctx, func(ctx context.Context) error {
		if err := w.opts.Echoes.RecordEcho(ctx, tenantID, userID, pair.Availability, pair.Activity, w.opts.EchoTTL); err != nil {
			return fmt.Errorf("writeback: %w", err)
		}
		return send(ctx)
	})
	if _, answered := graphapi.AsError(err); answered {
		w.withdrawEcho(ctx, tenantID, userID, pair)
	}
	return attempts, err
}

// withdrawEcho ends the echo at once (an echo expiring now is none). It
// runs even when ctx has ended: the refusal is being reported.
func (w *Writer) withdrawEcho(ctx context.Context, tenantID, userID uuid.UUID, pair presence.Pair) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := w.opts.Echoes.RecordEcho(ctx, tenantID, userID, pair.Availability, pair.Activity, 0); err != nil {
		w.opts.Logger.Warn("writeback: a refused write's echo could not be withdrawn; a real change to the same state may go unsent until it expires",
			"tenant", tenantID, "user", userID, "state", pair.String(), "err", err)
	}
}
