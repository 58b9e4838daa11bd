package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"presencebridge/internal/tenancy"
)

// purgeEvery is how often deleted tenants past their grace are looked
// for: a tenant's data outlives its purge date by at most this (and by
// the time the engine takes to delete its subscriptions at Graph).
const purgeEvery = time.Hour

// PurgeArgs asks for the deleted tenants whose grace ended to be removed.
type PurgeArgs struct{}

// Kind implements river.JobArgs.
func (PurgeArgs) Kind() string { return "tenant_purge" }

// InsertOpts makes the job unique per period, as the session sweep's.
func (PurgeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: purgeEvery}}
}

// PurgeWorker removes deleted tenants past their grace
// (tenancy.Service.Purge: in batches, each audited, skipping rows another
// purge holds), so two runs at once remove each tenant once.
type PurgeWorker struct {
	river.WorkerDefaults[PurgeArgs]
	t *tenancy.Service
}

// Work implements river.Worker.
func (w *PurgeWorker) Work(ctx context.Context, job *river.Job[PurgeArgs]) error {
	if _, err := w.t.Purge(ctx); err != nil {
		return fmt.Errorf("tenant purge: %w", err)
	}
	return nil
}
