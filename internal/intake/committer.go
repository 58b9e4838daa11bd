// Package intake makes Graph's notifications durable and processes them.
//
// The receiver (web/graphhook) may answer Graph 202 only once what it
// accepted is committed, and must answer within 3 seconds for every
// subscription on the URL — that is, for every tenant. The Committer
// therefore group-commits: concurrent requests queue their rows, and each
// database round trip writes everything queued so far in one multi-row
// insert, so a burst costs a few transactions instead of one per POST.
// The processors are woken after the commit, not in its transaction.
package intake

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/store"
)

// Row is one POST's accepted items, as stored in the inbox.
type Row = store.InboxRow

// ErrUnavailable is returned when the inbox cannot be written in time:
// answer 503 so Graph retries, never 202.
var ErrUnavailable = errors.New("intake: the inbox is unavailable")

// CommitterOptions tune the group commit.
type CommitterOptions struct {
	// Workers commit in parallel, so one batch's fsync overlaps the next
	// batch's gathering (default 2). Each holds one of the pool's
	// connections while it commits.
	Workers int
	// MaxBatch bounds the rows in one transaction (default 500).
	MaxBatch int
	// Timeout bounds one commit; beyond it requests get ErrUnavailable
	// (default 2 s, inside Graph's 3 s).
	Timeout time.Duration
}

// Committer group-commits rows into the inbox.
type Committer struct {
	st   *store.Store
	opts CommitterOptions
	in   chan *pending
}

type pending struct {
	row  Row
	done chan error
}

// NewCommitter returns a Committer over pool; call Run to start it. The
// inbox holds nothing sealed, so its Store needs no key ring. Give it a
// pool of its own, of at least Workers connections (the web role's holds
// PB_INTAKE_DB_CONNS less the receiver's one for lookups): on a shared
// one, whatever holds the connections — processors, engine locks, token
// refreshes — holds up every tenant's notifications too.
func NewCommitter(pool *pgxpool.Pool, opts CommitterOptions) *Committer {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 500
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Second
	}
	return &Committer{st: store.New(pool, nil), opts: opts, in: make(chan *pending, 4*opts.MaxBatch)}
}

// Run commits until ctx ends.
func (c *Committer) Run(ctx context.Context) {
	done := make(chan struct{})
	for range c.opts.Workers {
		go func() {
			defer func() { done <- struct{}{} }()
			c.work(ctx)
		}()
	}
	for range c.opts.Workers {
		<-done
	}
}

// work takes whatever is queued (at least one row) and commits it: under
// load batches grow by themselves; when idle a row commits at once.
func (c *Committer) work(ctx context.Context) {
	batch := make([]*pending, 0, c.opts.MaxBatch)
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-c.in:
			batch = append(batch[:0], p)
		}
	gather:
		for len(batch) < c.opts.MaxBatch {
			select {
			case p := <-c.in:
				batch = append(batch, p)
			default:
				break gather
			}
		}
		err := c.insert(ctx, batch)
		for _, p := range batch {
			p.done <- err
		}
		if err == nil {
			c.notify(ctx, len(batch))
		}
	}
}

// notify wakes the processors once a batch is committed and answered, in
// a transaction of its own (store.Store.NotifyInbox says why). Failing
// costs them a second, so it is not retried.
func (c *Committer) notify(ctx context.Context, rows int) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	_ = c.st.NotifyInbox(ctx, rows)
}

func (c *Committer) insert(ctx context.Context, batch []*pending) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	rows := make([]store.InboxRow, len(batch))
	for i, p := range batch {
		rows[i] = p.row
	}
	// One multi-row insert for the whole batch: the group commit.
	err := c.st.InsertInbox(ctx, rows)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// Commit queues row and waits until it is committed (nil) or cannot be
// (ErrUnavailable). It never takes much longer than the commit timeout.
func (c *Committer) Commit(ctx context.Context, row Row) error {
	p := &pending{row: row, done: make(chan error, 1)}
	timer := time.NewTimer(c.opts.Timeout)
	defer timer.Stop()
	select {
	case c.in <- p:
	case <-timer.C:
		return fmt.Errorf("%w: the commit queue is full", ErrUnavailable)
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
