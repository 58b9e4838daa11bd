// Package jobs runs Presence Bridge's background work on River, a job queue
// kept in our own Postgres: jobs commit with the data that caused them, run
// on exactly one of any number of worker processes, and retry with backoff.
// Domain packages add their workers here as they arrive.
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"presencebridge/internal/activity"
	"presencebridge/internal/store"
	"presencebridge/internal/tenancy"
)

// Options configure the job client.
type Options struct {
	Logger *slog.Logger
	// Work is false for processes that only enqueue (the web role): their
	// client inserts jobs but runs none.
	Work bool
	// MaxWorkers bounds concurrent jobs in this process (default 20).
	MaxWorkers int
	// Retention is how long presence history is kept (default 30 days).
	Retention time.Duration
	// Writer carries out presence writes the API accepted with 202
	// (*writeback.Writer); the worker is registered in every process, so
	// the web role may insert its jobs, and runs where Work is set.
	Writer PresenceWriter
	// Alerts mails tenants' contacts about their alerts, every minute;
	// nil: no alert mail (none configured).
	Alerts AlertMailer
}

// NewClient builds the River client, over st's pool, with every worker and
// periodic job.
func NewClient(st *store.Store, opts Options) (*Client, error) {
	if opts.MaxWorkers == 0 {
		opts.MaxWorkers = 20
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &SessionSweepWorker{st: st})
	if opts.Retention <= 0 {
		opts.Retention = 30 * 24 * time.Hour
	}
	river.AddWorker(workers, &RetentionWorker{st: st, keep: opts.Retention})
	river.AddWorker(workers, &PresenceWriteWorker{st: st, w: opts.Writer})
	river.AddWorker(workers, &PurgeWorker{t: tenancy.New(st, 0, nil)})
	if opts.Alerts != nil {
		river.AddWorker(workers, &AlertMailWorker{m: opts.Alerts})
	}

	running := newRunning()
	cfg := &river.Config{
		Logger:     opts.Logger,
		Workers:    workers,
		Middleware: []rivertype.Middleware{running},
		// River's own logs are chatty at info; ours say what matters.
		JobTimeout: time.Minute,
	}
	if opts.Work {
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.MaxWorkers}}
		cfg.PeriodicJobs = []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(15*time.Minute),
				func() (river.JobArgs, *river.InsertOpts) { return SessionSweepArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true, ID: "session_sweep"}),
			river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
				func() (river.JobArgs, *river.InsertOpts) { return RetentionArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true, ID: "presence_retention"}),
			river.NewPeriodicJob(river.PeriodicInterval(purgeEvery),
				func() (river.JobArgs, *river.InsertOpts) { return PurgeArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true, ID: "tenant_purge"}),
		}
		if opts.Alerts != nil {
			cfg.PeriodicJobs = append(cfg.PeriodicJobs, river.NewPeriodicJob(river.PeriodicInterval(alertMailEvery),
				func() (river.JobArgs, *river.InsertOpts) { return AlertMailArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true, ID: "alert_mail"}))
		}
	}
	client, err := river.NewClient(riverpgxv5.New(st.Pool()), cfg)
	if err != nil {
		return nil, fmt.Errorf("job client: %w", err)
	}
	return &Client{Client: client, running: running}, nil
}

// SessionSweepArgs asks for expired browser sessions to be deleted.
type SessionSweepArgs struct{}

func (SessionSweepArgs) Kind() string { return "session_sweep" }

// InsertOpts makes the sweep unique per period: periodic jobs are scheduled
// in memory by River's elected leader, so a leader change could insert twice.
func (SessionSweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: 15 * time.Minute}}
}

// SessionSweepWorker deletes sessions past their expiry, in bounded batches
// so that a large backlog never holds long locks. It is the only sweeper
// of the sessions table: as a periodic job it runs on one worker of any
// number of instances, where a sweeper in each web process would run the
// same DELETE in every one.
type SessionSweepWorker struct {
	river.WorkerDefaults[SessionSweepArgs]
	st *store.Store
}

// sessionSweepBatch bounds the sessions one statement deletes.
const sessionSweepBatch = 1000

// Work implements river.Worker.
func (w *SessionSweepWorker) Work(ctx context.Context, job *river.Job[SessionSweepArgs]) error {
	for {
		n, err := w.st.DeleteExpiredSessions(ctx, sessionSweepBatch)
		if err != nil {
			return fmt.Errorf("sweep sessions: %w", err)
		}
		if n < sessionSweepBatch {
			return nil
		}
	}
}

// RetentionArgs asks for presence history older than the retention to be
// deleted.
type RetentionArgs struct{}

// Kind implements river.JobArgs.
func (RetentionArgs) Kind() string { return "presence_retention" }

// RetentionWorker deletes presence events older than the retention, with
// their finished deliveries; an event still waiting to be delivered, or
// dead and replayable, is kept whatever its age (nothing is lost to the
// clean-up), up to deadLettersPerUser dead letters per user at an
// endpoint. Quarantined inbox rows and API operations older than the
// retention go too, idempotency keys past their 24 hours, and per-minute
// activity figures past their 30 days.
type RetentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	st   *store.Store
	keep time.Duration
}

// retentionBatch bounds the events one transaction deletes.
const retentionBatch = 5000

// trimUsersPerBatch is how many users one batch of the dead letters'
// bound looks at: it deletes what they gained beyond the bound since the
// last run, an hour's dead letters at most for a user who is at it.
const trimUsersPerBatch = 500

// deadLettersPerUser bounds the dead letters kept for one user at one
// endpoint (store.TrimDeadLetters): a disabled endpoint gets one for each
// change until someone enables it and replays them, or drops them, and
// one forgotten disabled must not grow the database for ever. A thousand
// is weeks of a busy agent's changes, longer than the history is kept by
// default (30 days), and the newest — the user's state now, what a replay
// most needs — always stay.
const deadLettersPerUser = 1000

// Work implements river.Worker, in batches so no transaction grows large.
func (w *RetentionWorker) Work(ctx context.Context, job *river.Job[RetentionArgs]) error {
	for _, step := range []struct {
		what string
		run  func(context.Context) error
	}{
		// First, so the events of the dead letters it trims go in this run.
		// Each batch of these two goes on from where the last one stopped:
		// what earlier batches looked at is not read again.
		{"dead letter bound", func(ctx context.Context) error {
			var after store.DeadLetterUser
			for {
				_, next, err := w.st.TrimDeadLetters(ctx, deadLettersPerUser, trimUsersPerBatch, after)
				if err != nil || next == (store.DeadLetterUser{}) {
					return err
				}
				after = next
			}
		}},
		// Until a batch reaches an event young enough to keep.
		{"presence retention", func(ctx context.Context) error {
			var after int64
			for {
				_, next, err := w.st.DeleteOldPresenceEvents(ctx, w.keep, after, retentionBatch)
				if err != nil || next == 0 {
					return err
				}
				after = next
			}
		}},
		{"quarantined inbox retention", inBatches(func(ctx context.Context) (int64, error) {
			return w.st.DeleteOldQuarantinedInbox(ctx, w.keep, retentionBatch)
		})},
		{"idempotency key retention", inBatches(func(ctx context.Context) (int64, error) {
			return w.st.DeleteExpiredIdempotencyKeys(ctx, retentionBatch)
		})},
		{"operation retention", inBatches(func(ctx context.Context) (int64, error) {
			return w.st.DeleteOldOperations(ctx, w.keep, retentionBatch)
		})},
		// Kept for the charts' longest span, whatever PB_EVENT_RETENTION says.
		{"activity retention", inBatches(func(ctx context.Context) (int64, error) {
			return w.st.DeleteOldActivity(ctx, activity.Retention, retentionBatch)
		})},
	} {
		if err := step.run(ctx); err != nil {
			return fmt.Errorf("%s: %w", step.what, err)
		}
	}
	return nil
}

// inBatches runs a deletion of up to retentionBatch rows until one deletes
// fewer.
func inBatches(del func(context.Context) (int64, error)) func(context.Context) error {
	return func(ctx context.Context) error {
		for {
			n, err := del(ctx)
			if err != nil || n < retentionBatch {
				return err
			}
		}
	}
}
