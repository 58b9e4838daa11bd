DROP INDEX directory_users_unresolved_idx;
ALTER TABLE tenants
    DROP COLUMN health_changed_at,
    DROP COLUMN health_reason,
    DROP COLUMN health_condition,
    DROP COLUMN health;
