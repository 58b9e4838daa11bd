-- deliveries_backlog_idx (000034) held every delivery not delivered, so
-- every pending one: two of the fourteen index entries a delivered
-- webhook wrote (one when queued, one when claimed: the claim moves
-- next_attempt_at, an indexed column, so its update is never heap-only),
-- for the integration page's counts alone (store.Backlogs; issue 16).
-- Pending deliveries are counted along deliveries_pending_user_idx, as the
-- console's tenant list already counts them; this index holds only what a
-- replay brings back (dead and superseded), for their counts, the replay
-- and the drop of dead letters. None of them is on the delivery path.
CREATE INDEX deliveries_replayable_idx ON deliveries (endpoint_id, status) WHERE status IN ('dead', 'superseded');
DROP INDEX deliveries_backlog_idx;
