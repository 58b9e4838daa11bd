-- The console's lists across tenants (issue 14): the audit log and the
-- alerts of every tenant, newest first and keyset-paged, and the mails
-- sent about each alert.

-- The audit log of every tenant (and of none: staff sign-ins, purges)
-- newest first: keyset by (at, id), a range of this index whatever the
-- page. Its filters across tenants: an actor ("staff:ana@vendor.example")
-- in page order, or a kind of actor ("staff") and an action prefix
-- ("tenant.") as ranges in the C collation, as store.AuditTrail compares
-- them. Audit entries are written by people's actions and the engine's
-- rare changes, so three more indexes cost little.
CREATE INDEX audit_log_at_idx ON audit_log (at, id);
CREATE INDEX audit_log_actor_idx ON audit_log ((actor COLLATE "C"), at, id);
CREATE INDEX audit_log_action_idx ON audit_log ((action COLLATE "C"), at, id);

-- Alerts of every tenant, newest first (the open ones are few and found
-- through alerts_open_idx).
CREATE INDEX alerts_raised_idx ON alerts (raised_at, id);

-- The mails sent about an alert, beside it in the console's list.
CREATE INDEX mail_log_alert_idx ON mail_log (alert_id, sent_at) WHERE alert_id IS NOT NULL;
