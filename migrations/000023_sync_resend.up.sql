-- A sync (POST /api/v1/sync) re-sends the current state of every user it
-- re-reads, changed or not, as a new event with source 'sync'.
--
-- presence_resync.sync_at: when a sync last asked for this re-read (NULL:
-- no sync is waiting on it). The engine forces the re-read of an entry
-- that has it, and clears it once a forced re-read has covered it, also
-- when the entry itself stays because it was asked for again meanwhile.
ALTER TABLE presence_resync ADD COLUMN sync_at timestamptz;

-- The new check only allows more than the old one, which every row met, so
-- it is not validated: a scan of the whole event history under this
-- statement's exclusive lock would stop every presence write meanwhile.
-- New rows are checked as always.
ALTER TABLE presence_events DROP CONSTRAINT presence_events_source_check;
ALTER TABLE presence_events ADD CONSTRAINT presence_events_source_check
    CHECK (source IN ('notification', 'repair', 'api', 'echo', 'sync')) NOT VALID;
