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
