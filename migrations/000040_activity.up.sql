-- Measured activity (issue 14): what the pipeline did for each tenant in
-- each minute — Graph notification items received, webhooks delivered and
-- failed, and the latency of the delivered ones as a histogram — for the
-- charts of the tenant pages and the console. Written by each worker every
-- few seconds (internal/activity: one statement per table for all its
-- tenants), never per delivery; a row exists only for a period with
-- traffic; kept 30 days (the retention job).
--
-- latency counts deliveries per bucket of internal/activity's fixed
-- log-scale bounds (below 1 ms, then ×1.5 per bucket up to ~11 min, then
-- everything longer): the percentiles of any range are read by summing
-- its rows' buckets, which a percentile stored per minute could not give.
CREATE TABLE activity_minutes (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    at            timestamptz NOT NULL, -- the minute's start
    notifications integer NOT NULL DEFAULT 0,
    delivered     integer NOT NULL DEFAULT 0,
    failed        integer NOT NULL DEFAULT 0,
    latency       integer[] NOT NULL CHECK (cardinality(latency) = 35),
    PRIMARY KEY (tenant_id, at)
);
-- The retention job deletes by age across tenants.
CREATE INDEX activity_minutes_at_idx ON activity_minutes (at);

-- The same figures by hour, written with the minutes: the charts of 7 and
-- 30 days read 720 rows of a tenant, not 43,200 minutes, whose 35 buckets
-- histograms cost the database ~40 ms of CPU to sum (BENCHMARKS.md).
CREATE TABLE activity_hours (LIKE activity_minutes INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    PRIMARY KEY (tenant_id, at),
    FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE);
CREATE INDEX activity_hours_at_idx ON activity_hours (at);

-- Every tenant's figures together, by minute and by hour: the console's
-- overall chart reads as many rows however many tenants there are. A
-- tenant's deletion takes its own rows, not what it added to these.
CREATE TABLE activity_minutes_overall (
    at            timestamptz PRIMARY KEY,
    notifications integer NOT NULL DEFAULT 0,
    delivered     integer NOT NULL DEFAULT 0,
    failed        integer NOT NULL DEFAULT 0,
    latency       integer[] NOT NULL CHECK (cardinality(latency) = 35)
);
CREATE TABLE activity_hours_overall (LIKE activity_minutes_overall INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    PRIMARY KEY (at));
