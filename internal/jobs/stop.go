package jobs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Client is River's client for this process, knowing which jobs it is
// running, so that a shutdown cut short can name them.
type Client struct {
	*river.Client[pgx.Tx]
	running *running
}

// Shutdown stops working jobs by ctx's end. Jobs in progress may finish
// during the first half of the time ctx leaves; then their contexts are
// cancelled, so that they end with an error River retries soon. A job left
// running is only rescued after River's hour, hence the cancellation rather
// than waiting to the end. Past ctx's end, the error names the jobs still
// running (they ignore cancellation); River retries them later.
func (c *Client) Shutdown(ctx context.Context) error {
	soft := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		soft, cancel = context.WithTimeout(ctx, time.Until(deadline)/2)
		defer cancel()
	}
	if c.Stop(soft) == nil {
		return nil
	}
	if c.StopAndCancel(ctx) == nil {
		return nil
	}
	jobs := c.running.list()
	if len(jobs) == 0 { // the jobs ended, River's own work did not
		return errors.New("jobs: the River client did not stop")
	}
	return fmt.Errorf("jobs: %s still running", strings.Join(jobs, ", "))
}

// running is a River middleware that keeps the jobs this process works on.
type running struct {
	river.MiddlewareDefaults
	mu   sync.Mutex
	jobs map[int64]string // id → kind
}

var _ rivertype.WorkerMiddleware = (*running)(nil)

func newRunning() *running { return &running{jobs: map[int64]string{}} }

// Work implements rivertype.WorkerMiddleware.
func (r *running) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	r.mu.Lock()
	r.jobs[job.ID] = job.Kind
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.jobs, job.ID)
		r.mu.Unlock()
	}()
	return doInner(ctx)
}

// list is the jobs in progress as "kind (job id)", by id.
func (r *running) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := slices.Sorted(maps.Keys(r.jobs))
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = fmt.Sprintf("%s (job %d)", r.jobs[id], id)
	}
	return out
}
