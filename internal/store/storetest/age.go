package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// AgeDatabase lets d pass for what the database holds, for a fault suite
// that cannot move the clocks of running processes (nor PostgreSQL's
// now(), which drives leases and due times): every timestamptz of the
// product's tables moves d into the past, in one transaction, so that to
// the product — whose clocks stay the host's — every subscription, lease,
// retry, token and hold is d further along, exactly as if d had passed
// with nobody there to act (graphsim's POST /_sim/clock does the same to
// Graph). The product never calls it.
//
// Left alone: tables keyed by a time (the activity figures by minute and
// hour: moved row by row, their keys would collide; they are statistics
// nobody waits on), River's own tables (its leader's lease and its jobs'
// schedule belong to River), and date columns (a day, not an instant). A
// claim a running process holds moves too: it has lapsed when the
// statement commits, as it would have after d of a stalled process.
func AgeDatabase(ctx context.Context, pool *pgxpool.Pool, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("age the database: %v is not a time to pass", d)
	}
	rows, err := pool.Query(ctx, `
		SELECT c.relname, string_agg(quote_ident(a.attname), ',' ORDER BY a.attnum)
		FROM pg_class c
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND a.atttypid = 'timestamptz'::regtype
			AND c.relname NOT LIKE 'river\_%'
			AND NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute k ON k.attrelid = i.indrelid AND k.attnum = ANY (i.indkey)
				WHERE i.indrelid = c.oid AND i.indisunique AND k.atttypid = 'timestamptz'::regtype)
		GROUP BY c.relname ORDER BY c.relname`)
	if err != nil {
		return fmt.Errorf("age the database: %w", err)
	}
	type table struct{ name, columns string }
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (table, error) {
		var t table
		return t, r.Scan(&t.name, &t.columns)
	})
	if err != nil {
		return fmt.Errorf("age the database: %w", err)
	}
	var stmts []string
	for _, t := range tables {
		var set []string
		for col := range strings.SplitSeq(t.columns, ",") {
			set = append(set, fmt.Sprintf("%s = %s - $1::interval", col, col))
		}
		stmts = append(stmts, fmt.Sprintf("UPDATE %s SET %s", pgx.Identifier{t.name}.Sanitize(), strings.Join(set, ", ")))
	}
	// The product's processes may be running: a deadlock with one of
	// them is retried, the product's side of it too.
	for attempt := 0; ; attempt++ {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			for _, s := range stmts {
				if _, err := tx.Exec(ctx, s, d.String()); err != nil {
					return fmt.Errorf("%s: %w", s[:strings.Index(s, " SET")], err)
				}
			}
			return nil
		})
		var pe *pgconn.PgError
		if err != nil && errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001") && attempt < 5 {
			continue
		}
		if err != nil {
			return fmt.Errorf("age the database: %w", err)
		}
		return nil
	}
}
