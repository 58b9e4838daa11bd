DROP INDEX tenants_purge_idx;
ALTER TABLE tenants
    DROP CONSTRAINT tenants_purge_only_deleted,
    DROP COLUMN purge_after,
    DROP COLUMN resume_status,
    DROP COLUMN status_changed_by,
    DROP COLUMN status_changed_at,
    DROP COLUMN status_reason;
