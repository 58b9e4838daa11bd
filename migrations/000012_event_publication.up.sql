-- Events get a public identity and are published in one place for both
-- channels (webhooks and the event stream), so the two carry the same
-- events for the same changes.

-- uid: the event's identity for receivers (webhook-id, the payload's
-- eventId). The writer supplies a UUIDv7; rows older than this migration
-- get a random one. Unique across databases, unlike the row id.
ALTER TABLE presence_events ADD COLUMN uid uuid NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX presence_events_uid_idx ON presence_events (uid);

-- position: the event's place in its tenant's stream (the SSE id, a
-- resumable cursor), given when the event is published, in commit order
-- (event_streams below). NULL while a debounce holds the event, and for
-- events that are never published (suppressed, with the reason).
-- sequence, the per-user counter receivers order by, now counts published
-- events only, so a receiver sees no gap that is not a loss.
ALTER TABLE presence_events ADD COLUMN position bigint;
ALTER TABLE presence_events ADD COLUMN suppressed text
    CHECK (suppressed IN ('echo', 'debounce', 'superseded'));
ALTER TABLE presence_events ALTER COLUMN sequence DROP NOT NULL;
-- Existing events keep their ids as positions: a client resuming with an
-- id it received before this migration resumes where it was.
UPDATE presence_events SET position = id WHERE source <> 'echo';
UPDATE presence_events SET suppressed = 'echo' WHERE source = 'echo';
CREATE UNIQUE INDEX presence_events_position_idx ON presence_events (tenant_id, position) WHERE position IS NOT NULL;
-- The stream reads by position now; (tenant_id, id) served only the old
-- cursor, and every event paid for it.
DROP INDEX presence_events_tenant_idx;

-- A tenant's last stream position. Publishing locks the row as the last
-- step before commit, so positions become visible in the order they were
-- given: a reader never passes a position whose event is not committed yet.
CREATE TABLE event_streams (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    position  bigint NOT NULL DEFAULT 0
);
INSERT INTO event_streams (tenant_id, position)
    SELECT tenant_id, max(position) FROM presence_events WHERE position IS NOT NULL GROUP BY tenant_id;

-- A change that leaves "talking" is held for the tenant's debounce window:
-- the user's presence row names the held event until it is published, or
-- suppressed by a later change within the window.
ALTER TABLE presence ADD COLUMN held_event uuid;
ALTER TABLE presence ADD COLUMN held_until timestamptz;
CREATE INDEX presence_held_idx ON presence (held_until) WHERE held_until IS NOT NULL;

-- Deliveries are made when an event is published: a held one no longer
-- waits as a delivery whose attempt is postponed.
