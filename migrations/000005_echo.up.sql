-- Echo suppression: a presence Presence Bridge set in Teams on the
-- platform's behalf is recorded here, so the Teams change it causes is
-- stored but not sent back to the platform.
CREATE TABLE presence_echo (
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_object_id uuid NOT NULL,
    availability   text NOT NULL,
    activity       text NOT NULL,
    expires_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_object_id, availability, activity)
);

ALTER TABLE presence_events DROP CONSTRAINT presence_events_source_check;
ALTER TABLE presence_events ADD CONSTRAINT presence_events_source_check
    CHECK (source IN ('notification', 'repair', 'api', 'echo'));
