-- The presence engine (issue 5): what it needs to keep every monitored
-- user covered and to say so.

-- A monitor whose grant is gone cannot delete its Graph subscription; the
-- row stays (so the subscription's last notifications still verify) until
-- Graph lets it expire, then goes.
ALTER TABLE subscriptions
    ADD COLUMN abandoned_at timestamptz,
    ADD COLUMN renewed_at   timestamptz,
    ADD COLUMN renewals     integer NOT NULL DEFAULT 0;

-- Token refresh accounting: transient failures back off (retry_after) and
-- count at most once per day toward giving up after four days.
ALTER TABLE monitors
    ADD COLUMN failure_days     integer NOT NULL DEFAULT 0,
    ADD COLUMN last_failure_day date,
    ADD COLUMN retry_after      timestamptz;

-- Per tenant: when the engine last looked and what it found (dashboard, API).
CREATE TABLE engine_tenants (
    tenant_id          uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    users              integer NOT NULL DEFAULT 0,
    monitors           integer NOT NULL DEFAULT 0,
    unmonitored        integer NOT NULL DEFAULT 0,
    monitors_missing   integer NOT NULL DEFAULT 0,
    last_reconciled_at timestamptz,
    last_repair_at     timestamptz,
    last_error         text,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Conditions a tenant's admin must act on. One open alert per (tenant,
-- kind, subject); it is resolved when the condition clears. Delivery by
-- e-mail and on the dashboard comes with the dashboard.
CREATE TABLE alerts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind        text NOT NULL,
    subject     text NOT NULL DEFAULT '',
    message     text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}',
    raised_at   timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    notified_at timestamptz
);
CREATE UNIQUE INDEX alerts_open_idx ON alerts (tenant_id, kind, subject) WHERE resolved_at IS NULL;
CREATE INDEX alerts_tenant_idx ON alerts (tenant_id, raised_at DESC);
