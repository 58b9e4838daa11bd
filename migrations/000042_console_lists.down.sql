DROP INDEX mail_log_alert_idx;
DROP INDEX alerts_raised_idx;
DROP INDEX audit_log_action_idx;
DROP INDEX audit_log_actor_idx;
DROP INDEX audit_log_at_idx;
