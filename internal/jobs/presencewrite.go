package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"presencebridge/internal/store"
	"presencebridge/internal/writeback"
)

// PresenceWriteArgs is a presence write the API accepted with 202 because
// Graph throttled it beyond the request's deadline: the job carries it out
// once Graph's Retry-After has passed and settles its operation.
type PresenceWriteArgs struct {
	Operation uuid.UUID         `json:"operation"`
	Tenant    uuid.UUID         `json:"tenant"`
	User      uuid.UUID         `json:"user"`
	Request   writeback.Request `json:"request"`
}

// Kind implements river.JobArgs.
func (PresenceWriteArgs) Kind() string { return "presence_write" }

// PresenceWriter carries out a write (*writeback.Writer).
type PresenceWriter interface {
	Do(ctx context.Context, tenantID, userObjectID uuid.UUID, r writeback.Request) (writeback.Result, error)
}

// PresenceWriteWorker carries out accepted presence writes.
type PresenceWriteWorker struct {
	river.WorkerDefaults[PresenceWriteArgs]
	st *store.Store
	w  PresenceWriter
}

// presenceWriteAttempts bounds the retries of a write that fails for
// reasons other than throttling (Graph or the database unreachable).
const presenceWriteAttempts = 8

// Work implements river.Worker. Throttled again: it waits for Graph's
// Retry-After (a snooze, not an attempt). Refused for good (the pair, the
// permission, the user): the operation fails with Graph's reason. Any
// other failure is retried with River's backoff, and fails the operation
// at the last attempt.
func (w *PresenceWriteWorker) Work(ctx context.Context, job *river.Job[PresenceWriteArgs]) error {
	a := job.Args
	if w.w == nil {
		return errors.New("presence write: this process has no writer")
	}
	if err := w.st.StartOperation(ctx, a.Operation); err != nil {
		return err
	}
	_, err := w.w.Do(ctx, a.Tenant, a.User, a.Request)
	var throttled *writeback.ThrottledError
	var invalid *writeback.InvalidError
	var denied *writeback.PermissionError
	switch {
	case err == nil:
		return w.st.FinishOperation(ctx, a.Operation, "")
	case errors.As(err, &throttled):
		return river.JobSnooze(max(time.Until(throttled.RetryAt), time.Second))
	case errors.As(err, &invalid), errors.As(err, &denied), errors.Is(err, writeback.ErrUserNotFound),
		job.Attempt >= job.MaxAttempts:
		return w.st.FinishOperation(ctx, a.Operation, err.Error())
	default:
		return err
	}
}

// InsertOpts implements river.JobArgsWithInsertOpts.
func (PresenceWriteArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: presenceWriteAttempts}
}
