-- A tenant's health, beside its lifecycle (status): an active tenant whose
-- access to Microsoft is broken as a whole (consent withdrawn, our app
-- disabled there, the app's secret expired or refused, the tenant gone) is
-- degraded, with the reason. The engine keeps passing over it, so it sees
-- the tenant recover and clears the health itself.
ALTER TABLE tenants
    ADD COLUMN health            text NOT NULL DEFAULT 'healthy' CHECK (health IN ('healthy', 'degraded')),
    ADD COLUMN health_condition  text,        -- identity.TenantProblem while degraded
    ADD COLUMN health_reason     text,        -- the identity platform's answer, for support
    ADD COLUMN health_changed_at timestamptz;

-- The engine counts a tenant's unusable roster entries every pass.
CREATE INDEX directory_users_unresolved_idx ON directory_users (tenant_id, seq)
    WHERE resolution_status IN ('not_found', 'disabled', 'duplicate');
