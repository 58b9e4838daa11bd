DROP TABLE captured_mail;
DROP TABLE mail_log;
DROP INDEX alerts_resolved_unmailed_idx;
ALTER TABLE alerts DROP COLUMN superseded, DROP COLUMN resolved_notified_at, DROP COLUMN mails_sent;
