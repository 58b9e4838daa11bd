-- Onboarding (issue 4): invitations, the tenant's declared admin and
-- options, and what a monitor's sign-in leaves behind.

ALTER TABLE tenants
    ADD COLUMN admin_email           text,
    ADD COLUMN allow_password_signin boolean NOT NULL DEFAULT false;

-- One row per invitation link handed out; the link itself is a sealed
-- token (internal/links) naming this row, so a row can be revoked.
CREATE TABLE invites (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    created_by text NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    last_used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invites_tenant_idx ON invites (tenant_id);

ALTER TABLE monitors
    ADD COLUMN display_name           text NOT NULL DEFAULT '',
    ADD COLUMN auth_method            text CHECK (auth_method IN ('code', 'password')),
    ADD COLUMN authorized_at          timestamptz,
    ADD COLUMN access_token_secret_id uuid REFERENCES secrets (id) ON DELETE SET NULL,
    -- Bumped by Retry, Renew and Delete: Copy-URL links carry the
    -- generation they were made for and stop working when it moves.
    ADD COLUMN link_generation        integer NOT NULL DEFAULT 0;
