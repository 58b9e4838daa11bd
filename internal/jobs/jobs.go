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

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// Options configure the job client.
type Options struct {
	Logger *slog.Logger
	// Work is false for processes that only enqueue (the web role): their
	// client inserts jobs but runs none.
	Work bool
	// MaxWorkers bounds concurrent jobs in this process (default 20).
	MaxWorkers int
}

// NewClient builds the River client with every worker and periodic job.
func NewClient(pool *pgxpool.Pool, opts Options) (*river.Client[pgx.Tx], error) {
	if opts.MaxWorkers == 0 {
		opts.MaxWorkers = 20
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &SessionSweepWorker{pool: pool})

	cfg := &river.Config{
		Logger:  opts.Logger,
		Workers: workers,
		// River's own logs are chatty at info; ours say what matters.
		JobTimeout: time.Minute,
	}
	if opts.Work {
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.MaxWorkers}}
		cfg.PeriodicJobs = []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(15*time.Minute),
				func() (river.JobArgs, *river.InsertOpts) { return SessionSweepArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true, ID: "session_sweep"}),
		}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("job client: %w", err)
	}
	return client, nil
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
// so that a large backlog never holds long locks.
type SessionSweepWorker struct {
	river.WorkerDefaults[SessionSweepArgs]
	pool *pgxpool.Pool
}

func (w *SessionSweepWorker) Work(ctx context.Context, job *river.Job[SessionSweepArgs]) error {
	for {
		tag, err := w.pool.Exec(ctx, `
			DELETE FROM sessions WHERE token IN (
				SELECT token FROM sessions WHERE expiry < now() LIMIT 1000)`)
		if err != nil {
			return fmt.Errorf("sweep sessions: %w", err)
		}
		if tag.RowsAffected() < 1000 {
			return nil
		}
	}
}
