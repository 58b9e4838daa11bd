-- Tenant API v1: keys carry scopes and an optional expiry; a retried write
-- with the same Idempotency-Key gets the first answer for 24 hours.

-- Keys made before scopes existed could do everything the API offered;
-- they keep that.
ALTER TABLE api_keys
    ADD COLUMN scopes     text[] NOT NULL DEFAULT '{events:read,presence:read,presence:write,users:write,admin}',
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN created_by text NOT NULL DEFAULT '';
ALTER TABLE api_keys ALTER COLUMN scopes DROP DEFAULT;
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id, created_at);

CREATE TABLE idempotency_keys (
    api_key_id   uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    key          text NOT NULL,
    method       text NOT NULL,
    path         text NOT NULL,
    request_hash bytea NOT NULL,          -- SHA-256 of method, path and body
    status       int,                     -- NULL while the first request runs
    headers      jsonb,
    body         bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (api_key_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
