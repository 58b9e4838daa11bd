-- Tenant admin portal (issue 13): the accounts that may sign in to a
-- tenant's portal, and invitations bound to the administrator who first
-- signed in with them.

-- A portal admin is an Entra account (oid) of the tenant's own Microsoft
-- tenant (ms_tenant_id, its tid when added). upn and display_name are for
-- people to read: Entra lets them change, so sign-in matches by object_id.
CREATE TABLE portal_admins (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    object_id    uuid NOT NULL,
    ms_tenant_id uuid NOT NULL,
    upn          text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    added_by     text NOT NULL,
    added_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, object_id)
);

-- An invitation binds to the first administrator who signs in with it;
-- from then on only that account may open it.
ALTER TABLE invites
    ADD COLUMN bound_ms_tenant_id uuid,
    ADD COLUMN bound_object_id    uuid,
    ADD COLUMN bound_upn          text,
    ADD COLUMN bound_at           timestamptz,
    ADD CONSTRAINT invites_bound_whole CHECK (
        (bound_at IS NULL) = (bound_object_id IS NULL) AND (bound_at IS NULL) = (bound_ms_tenant_id IS NULL));

-- One Microsoft tenant is connected to at most one of our tenants: the
-- UNIQUE constraint on tenants.ms_tenant_id (000001) says so, and
-- onboarding refuses, in words, a tenant connected elsewhere before it
-- gets that far (internal/onboarding).
