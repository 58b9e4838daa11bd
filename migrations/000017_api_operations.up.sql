-- Operations the API answers 202 for and the caller polls (GET
-- /api/v1/operations/{id}). A sync (POST /api/v1/sync) re-reads users'
-- presence from Graph: it queues the re-reads in presence_resync in the same
-- transaction as its row, and the engine's pass over the tenant runs it with
-- the queue (running), then records the real outcome (succeeded, or failed
-- with the reason) once the re-reads it asked for are done or have failed.
CREATE TABLE api_operations (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('sync')),
    -- The one user a sync re-reads; NULL: every monitored user of the tenant.
    user_object_id uuid,
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
    error          text,
    created_by     text NOT NULL,          -- the audit log's actor (apikey:<id>)
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz,
    CHECK ((status IN ('succeeded', 'failed')) = (finished_at IS NOT NULL))
);
-- The engine looks for a tenant's open operations every pass.
CREATE INDEX api_operations_open_idx ON api_operations (tenant_id, created_at) WHERE status IN ('pending', 'running');
