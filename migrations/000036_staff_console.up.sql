-- Vendor support console (issue 14): staff accounts that sign in with a
-- password (argon2id) and optionally a TOTP code, with the state that locks
-- an account after repeated failures. The staff table itself is from 000001.

-- viewer: may look at every tenant; support: may also act on them; admin:
-- everything, staff accounts included.
ALTER TABLE staff
    DROP CONSTRAINT staff_role_check,
    ADD CONSTRAINT staff_role_check CHECK (role IN ('viewer', 'support', 'admin')),
    -- argon2id in its PHC string form ($argon2id$v=19$m=…,t=…,p=…$salt$hash):
    -- the parameters travel with the hash, so they can be raised later.
    ADD COLUMN password_hash    text,
    -- The TOTP secret, sealed in `secrets` (purpose staff-totp-secret); NULL:
    -- no TOTP enrolled. A deleted secret leaves the account without TOTP
    -- rather than locked out.
    ADD COLUMN totp_secret_id   uuid REFERENCES secrets (id) ON DELETE SET NULL,
    -- The 30-second step of the last code accepted: a code is good once.
    ADD COLUMN totp_last_step   bigint NOT NULL DEFAULT 0,
    -- Consecutive failed sign-ins (password or code) since the last success
    -- or lock; at the limit the account is locked until locked_until.
    ADD COLUMN failed_signins   integer NOT NULL DEFAULT 0,
    ADD COLUMN locked_until     timestamptz,
    ADD COLUMN last_signin_at   timestamptz,
    ADD COLUMN created_by       text NOT NULL DEFAULT '';

-- The console's tenant list pages through tenants by name (keyset).
CREATE INDEX tenants_name_idx ON tenants (lower(name), id);
