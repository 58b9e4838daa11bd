DROP INDEX subscriptions_tenant_idx;
ALTER TABLE engine_tenants DROP COLUMN reconciled_digest;
DROP TRIGGER directory_users_deleted ON directory_users;
DROP TRIGGER directory_users_updated ON directory_users;
DROP TRIGGER directory_users_inserted ON directory_users;
DROP FUNCTION directory_users_changed();
DROP TABLE roster_changes;
