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
