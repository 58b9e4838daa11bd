DROP TABLE alerts;
DROP TABLE engine_tenants;
ALTER TABLE monitors DROP COLUMN retry_after, DROP COLUMN last_failure_day, DROP COLUMN failure_days;
ALTER TABLE subscriptions DROP COLUMN renewals, DROP COLUMN renewed_at, DROP COLUMN abandoned_at;
