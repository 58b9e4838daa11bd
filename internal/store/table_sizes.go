package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// TableSize is one table's size on disk, its indexes and TOAST included.
type TableSize struct {
	Table string
	Bytes int64
	Rows  int64 // the planner's estimate (pg_class.reltuples): no count(*) of millions of rows
}

// TableSizes lists the tables of the product's schema (and River's, in
// the same schema) with their sizes, largest first: what a load run
// reports as PostgreSQL's size per user, history apart.
func (s *Store) TableSizes(ctx context.Context) ([]TableSize, error) {
	rows, err := s.db.Query(ctx, `
		SELECT c.relname, pg_total_relation_size(c.oid), greatest(c.reltuples, 0)::bigint
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()
		ORDER BY 2 DESC, 1`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (TableSize, error) {
		var t TableSize
		err := r.Scan(&t.Table, &t.Bytes, &t.Rows)
		return t, err
	})
}
