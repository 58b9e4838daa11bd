-- Delivery semantics for live presence (issue 10).

-- superseded: a delivery an endpoint did not receive because a newer event
-- of the same user replaced it while the endpoint was failing (latest
-- state wins). Kept, and replayable while nothing newer reached the
-- endpoint; never sent after the newer one.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('pending', 'delivered', 'dead', 'superseded'));

-- The range of the user's sequences a delivery replaced at its endpoint,
-- kept on the row so that every retry of it says so (supersedes in the
-- payload).
ALTER TABLE deliveries ADD COLUMN supersedes_from bigint;
ALTER TABLE deliveries ADD COLUMN supersedes_to bigint;

-- leased_until: set by the claim that holds the row (NULL when none does).
-- An outcome is recorded only with the lease it was claimed under: a lease
-- that ran out during a slow send lets another worker claim the row again,
-- and only that claim's outcome counts.
ALTER TABLE deliveries ADD COLUMN leased_until timestamptz;

-- The retry schedule is counted from schedule_start (the delivery's
-- creation, or its replay), not from the number of attempts: probes of a
-- failing endpoint and "retry now" add attempts without shortening the
-- ~24 h a delivery is retried.
ALTER TABLE deliveries ADD COLUMN schedule_start timestamptz NOT NULL DEFAULT now();
UPDATE deliveries SET schedule_start = created_at;

-- The per-user probe's predicate now leaves superseded rows out too, so an
-- index of that predicate replaces migration 000009's (spelled the same
-- way, for the same reason: no other index can serve the probe).
DROP INDEX deliveries_pending_user_idx;
CREATE INDEX deliveries_pending_user_idx ON deliveries (endpoint_id, user_object_id, event_id)
    WHERE status NOT IN ('delivered', 'dead', 'superseded');

-- Heads that failed at least once: what superseding starts from. Empty
-- while every receiver answers, so looking costs nothing then.
CREATE INDEX deliveries_failed_idx ON deliveries (endpoint_id, user_object_id, event_id)
    WHERE status = 'pending' AND attempts > 0;
