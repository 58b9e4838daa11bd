package store

import "context"

// ClaimSettings runs a statement as every claim runs
// (claimUnderOrderLock) and returns the jit and plan_cache_mode it ran
// under. It needs a delivery with a lease: any will do, nothing changes.
func (s *Store) ClaimSettings(ctx context.Context) (jit, planCache string, err error) {
	_, err = s.claimUnderOrderLock(ctx, planning{generic: true}, []any{&jit, &planCache}, `WITH claimed AS (
			SELECT d.id, d.endpoint_id, d.event_id, d.attempts, d.leased_until, d.schedule_start, d.supersedes_from, d.supersedes_to
			FROM deliveries d WHERE d.leased_until IS NOT NULL LIMIT 1
		)
		SELECT `+claimedColumns+`, current_setting('jit'), current_setting('plan_cache_mode') `+claimedFrom)
	return jit, planCache, err
}

// TableUpdates counts the rows of table this connection has updated and
// not yet reported to the statistics (at least this transaction's so far),
// and how many of those updates were heap-only (HOT: no index entry
// written), from pg_stat_xact_user_tables.
func (tx Tx) TableUpdates(ctx context.Context, table string) (updated, hot int64, err error) {
	err = tx.db.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = $1`, table).
		Scan(&updated, &hot)
	return updated, hot, err
}

// FindUsersAnywhereSQL is FindUsersAnywhere's query, to EXPLAIN.
const FindUsersAnywhereSQL = findUsersAnywhere
