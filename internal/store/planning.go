package store

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// planning is how PostgreSQL plans one statement of the hot path, set for
// that statement alone (runPlanned). pgx prepares every statement and
// keeps it per connection; left to choose, PostgreSQL plans a prepared
// statement for its arguments at each of its first five executions, and
// keeps re-planning whenever the generic plan's estimate looks worse,
// which for arrays it does (unnest is costed at 100 rows whatever the
// batch). Planning is then a large part of the statement's cost: half of
// the presence batch's CPU for a batch of one change (4769b49), half of
// a claim's (BenchmarkClaimingAtAThousandEndpointsWithSomethingPending).
type planning struct {
	// generic: planned once per connection (plan_cache_mode
	// force_generic_plan), with sequential scans, bitmap scans and sorts
	// off for the planning, so that a plan made from the statistics of one
	// moment does not read every matching row at another. A sequential
	// scan chosen while a table was small (a new database, a cold start)
	// reads all of it once it has grown. A bitmap scan reads every row its
	// condition matches before the first comes out, and so does a sort of
	// what an index found: no LIMIT stops either. The claim, planned from
	// statistics taken while a backlog was pending (46 due deliveries an
	// endpoint expected), read and checked all 400–860 of each endpoint's
	// due deliveries to take 7 (bitmap scans: 143,000 buffers, 1 s a claim
	// in a repair of 100,000 users); planned from statistics taken once
	// every delivery had been delivered (one pending row expected of any
	// index), it took the smallest index that held the pending rows and
	// sorted them (9.2 million buffers, 34 s a claim in a repair of 100,000
	// of 1,000,000 users; issue 16). With sorts off, an ORDER BY … LIMIT
	// over a table comes from an index's order wherever one gives it (a
	// sort nothing else can do, as of a CTE's rows, is still made). Only
	// for a statement whose every table access goes by an index probe
	// whatever the estimates. Otherwise planned for its arguments at every
	// execution.
	generic bool
	// sharedLock, if not zero, is an advisory lock taken shared for the
	// transaction before the statement, so that the statement's snapshot
	// is taken once the lock is held (orderLock).
	sharedLock int64
}

// genericOff are the planner's settings a generic plan is made with off
// (planning.generic says why).
var genericOff = []string{"enable_seqscan", "enable_bitmapscan", "enable_sort"}

// runPlanned runs the query sql with args as p says, in one round trip,
// and hands its rows to scan. On the pool the batch is a transaction of
// its own and the settings end with it; in a transaction they are set
// back to the session's after sql.
func runPlanned(ctx context.Context, db querier, p planning, sql string, args []any, scan func(pgx.Rows) error) error {
	set, reset := `set_config('plan_cache_mode', 'force_custom_plan', true)`, []string{`SET LOCAL plan_cache_mode TO DEFAULT`}
	if p.generic {
		set = `set_config('plan_cache_mode', 'force_generic_plan', true)`
		for _, name := range genericOff {
			set += `, set_config('` + name + `', 'off', true)`
			reset = append(reset, `SET LOCAL `+name+` TO DEFAULT`)
		}
	}
	if _, pooled := db.(*pgxpool.Pool); pooled {
		reset = nil
	}
	b := &pgx.Batch{}
	if p.sharedLock != 0 {
		b.Queue(`SELECT pg_advisory_xact_lock_shared($1), `+set, p.sharedLock)
	} else {
		b.Queue(`SELECT ` + set)
	}
	b.Queue(sql, args...)
	for _, r := range reset {
		b.Queue(r)
	}
	br := db.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return err
	}
	rows, err := br.Query()
	if err != nil {
		return err
	}
	if err := scan(rows); err != nil {
		rows.Close()
		return err
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for range reset {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	return br.Close()
}
