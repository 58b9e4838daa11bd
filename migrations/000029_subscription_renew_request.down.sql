ALTER TABLE subscriptions DROP COLUMN renew_requested_at;
