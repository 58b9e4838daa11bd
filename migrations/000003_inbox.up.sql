-- The inbox holds what one notification POST brought, as one row: its
-- accepted items and the POST's validationTokens, which vouch for all of
-- them. One row per POST keeps the group commit cheap (a JWT per item
-- would multiply the bytes written); the processor fans items out.
ALTER TABLE inbox
    DROP COLUMN subscription_id,
    ADD COLUMN items integer NOT NULL DEFAULT 0;

-- Graph may notify a subscription before its id is stored: the receiver
-- then finds it by its clientState's hash.
CREATE INDEX subscriptions_pending_client_state_idx ON subscriptions (client_state_hash) WHERE graph_id IS NULL;
