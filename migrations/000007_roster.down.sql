DROP INDEX IF EXISTS directory_users_duplicate_of_idx;
DROP INDEX IF EXISTS directory_users_pending_idx;
ALTER TABLE directory_users
    DROP COLUMN IF EXISTS seq,
    DROP COLUMN IF EXISTS duplicate_of,
    DROP COLUMN IF EXISTS graph_upn,
    DROP COLUMN IF EXISTS source;
DROP TABLE IF EXISTS roster_sources;
