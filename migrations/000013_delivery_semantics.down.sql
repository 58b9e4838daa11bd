DROP INDEX IF EXISTS deliveries_failed_idx;
DROP INDEX IF EXISTS deliveries_pending_user_idx;
UPDATE deliveries SET status = 'dead' WHERE status = 'superseded';
CREATE INDEX deliveries_pending_user_idx ON deliveries (endpoint_id, user_object_id, event_id)
    WHERE status NOT IN ('delivered', 'dead');
ALTER TABLE deliveries DROP COLUMN IF EXISTS schedule_start;
ALTER TABLE deliveries DROP COLUMN IF EXISTS leased_until;
ALTER TABLE deliveries DROP COLUMN IF EXISTS supersedes_to;
ALTER TABLE deliveries DROP COLUMN IF EXISTS supersedes_from;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check CHECK (status IN ('pending', 'delivered', 'dead'));
