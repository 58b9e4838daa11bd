-- An endpoint's Retry-After (issue 15, FAULTS.md bug 1): the latest time
-- an endpoint answering 429 or 503 asked us to wait until. The circuit
-- breaker's probe (store.ClaimProbe) takes a delivery whatever its
-- schedule says, so without this a process whose circuit opened for a
-- 1 s cooldown probed an endpoint that had asked for 2 s. A table of its
-- own, not a column of endpoints: writing the endpoint's row at every 429
-- would wait for each presence write's share lock on it (queueDeliveries)
-- and make them wait in turn.
CREATE TABLE endpoint_retry_after (
    endpoint_id uuid PRIMARY KEY REFERENCES endpoints (id) ON DELETE CASCADE,
    until       timestamptz NOT NULL
);

-- order_check marks, for each user, the oldest delivery a replay put back
-- in the queue (FAULTS.md bug 2): the claim that first takes it checks
-- that no newer delivery of the user reached the endpoint meanwhile, and
-- supersedes it and the older ones if one did, instead of sending them
-- (store.ClaimDeliveries). One row per user, not every replayed row: the
-- check reads the user's newer events, and the rows behind the first have
-- been queued behind it since, where nothing newer can overtake them.
ALTER TABLE deliveries ADD COLUMN order_check boolean NOT NULL DEFAULT false;
