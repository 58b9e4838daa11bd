DROP INDEX IF EXISTS deliveries_backlog_idx;
DROP INDEX IF EXISTS audit_log_tenant_action_idx;
DROP INDEX IF EXISTS audit_log_tenant_actor_idx;
CREATE INDEX audit_log_tenant_at_only_idx ON audit_log (tenant_id, at);
DROP INDEX audit_log_tenant_idx;
ALTER INDEX audit_log_tenant_at_only_idx RENAME TO audit_log_tenant_idx;
DROP INDEX IF EXISTS directory_users_tenant_status_idx;
