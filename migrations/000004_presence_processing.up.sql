-- Processing notifications (issue 6): Graph's own sequenceNumber per user,
-- to drop stale reorderings, and the state last sent downstream.
ALTER TABLE presence
    ADD COLUMN graph_sequence text NOT NULL DEFAULT '',
    ADD COLUMN mapped_state   text NOT NULL DEFAULT 'unknown';

-- Users whose presence must be re-read (a basic notification without
-- resource data, or a gap): the engine's repair job drains it.
CREATE TABLE presence_resync (
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_object_id uuid NOT NULL,
    reason         text NOT NULL,
    queued_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_object_id)
);

-- Lifecycle notifications handed to the engine.
CREATE TABLE subscription_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id uuid NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    event           text NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    handled_at      timestamptz
);
CREATE INDEX subscription_events_open_idx ON subscription_events (subscription_id) WHERE handled_at IS NULL;
