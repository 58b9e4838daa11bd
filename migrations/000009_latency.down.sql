DROP INDEX IF EXISTS deliveries_pending_user_idx;
DROP TRIGGER IF EXISTS deliveries_user_from_event ON deliveries;
DROP FUNCTION IF EXISTS deliveries_user_from_event();
ALTER TABLE deliveries DROP COLUMN IF EXISTS user_object_id;
