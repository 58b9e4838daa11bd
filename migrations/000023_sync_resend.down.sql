-- A sync's events become what they were before syncs re-sent: re-reads.
UPDATE presence_events SET source = 'repair' WHERE source = 'sync';
ALTER TABLE presence_events DROP CONSTRAINT presence_events_source_check;
ALTER TABLE presence_events ADD CONSTRAINT presence_events_source_check
    CHECK (source IN ('notification', 'repair', 'api', 'echo'));
ALTER TABLE presence_resync DROP COLUMN IF EXISTS sync_at;
