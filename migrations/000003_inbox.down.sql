DROP INDEX IF EXISTS subscriptions_pending_client_state_idx;
ALTER TABLE inbox
    DROP COLUMN items,
    ADD COLUMN subscription_id text NOT NULL DEFAULT '';
