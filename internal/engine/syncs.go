package engine

import (
	"context"
	"errors"

	"github.com/google/uuid"
)

// Syncs asked for through the API (POST /api/v1/sync) ride on the re-read
// queue: the API queues their users with the operation, marked as a
// sync's, the pass marks them running before its repair step (which
// drains the queue, or re-reads everyone when the periodic repair is due)
// and settles them with that step's outcome, so an operation says what
// really happened to its re-reads. Unlike other re-reads, a sync's sends
// each user's current state on as a new event, changed or not (reread):
// the platform asks because it suspects it lost some. The step applies the
// events, commits, and only then clears the queue entries, so a sync is
// settled succeeded only once its events are recorded.

// settleSyncs records the repair step's outcome on the running syncs.
func (r *Runner) settleSyncs(ctx context.Context, tenantID uuid.UUID, repairErr error) error {
	failure := ""
	if repairErr != nil {
		failure = "The presence could not be re-read from Microsoft Graph: " + repairErr.Error()
	}
	return r.st.SettleSyncOperations(ctx, tenantID, failure)
}

// failSyncs ends the open syncs of a tenant the engine cannot work on, its
// access to Microsoft being broken as a whole (cause says how); the queue
// keeps their users for when it works again.
func (r *Runner) failSyncs(ctx context.Context, tenantID uuid.UUID, cause error) error {
	reason := "The tenant's access to Microsoft is broken, so nothing can be re-read until it is restored"
	var de *DegradedError
	if errors.As(cause, &de) {
		reason += " (" + string(de.Problem) + ")"
	}
	return r.st.FailSyncOperations(ctx, tenantID, reason+". Its open alert says what to fix.")
}
