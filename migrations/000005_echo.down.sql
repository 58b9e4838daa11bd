DELETE FROM presence_events WHERE source = 'echo';
ALTER TABLE presence_events DROP CONSTRAINT presence_events_source_check;
ALTER TABLE presence_events ADD CONSTRAINT presence_events_source_check
    CHECK (source IN ('notification', 'repair', 'api'));
DROP TABLE IF EXISTS presence_echo;
