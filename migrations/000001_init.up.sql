-- The first schema, as the design first outlined it. Later issues refine the
-- tables they use with migrations of their own. Every tenant-scoped table
-- carries tenant_id; every secret lives sealed in `secrets`.

CREATE TABLE tenants (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                 text NOT NULL,
    ms_tenant_id         uuid UNIQUE,          -- Entra tenant id, once confirmed
    ms_domain            text,                 -- verified domain declared by the admin
    telephony_account_id text,
    status               text NOT NULL DEFAULT 'onboarding'
                         CHECK (status IN ('onboarding', 'active', 'suspended', 'deleted')),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- Sealed secrets (refresh tokens, client secrets, webhook signing secrets).
-- ciphertext = AES-256-GCM(nonce ‖ sealed) under key key_id, with AAD binding
-- it to tenant, row id and purpose (internal/seal). key_id makes rotation
-- resumable: rows not yet under the active key are the work left.
CREATE TABLE secrets (
    id         uuid PRIMARY KEY,
    tenant_id  uuid REFERENCES tenants (id) ON DELETE CASCADE,
    purpose    text NOT NULL,
    key_id     text NOT NULL,
    ciphertext bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX secrets_key_id_idx ON secrets (key_id);

-- A tenant's own app registration ("bring your own app"), instead of ours.
CREATE TABLE tenant_apps (
    tenant_id            uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    client_id            uuid NOT NULL,
    app_tenant_id        uuid NOT NULL,
    client_secret_id     uuid REFERENCES secrets (id),
    secret_expires_at    timestamptz,
    secret_expiry_source text CHECK (secret_expiry_source IN ('graph', 'admin')),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE onboarding (
    tenant_id         uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    invite_expires_at timestamptz NOT NULL,
    form              jsonb NOT NULL DEFAULT '{}',
    consent_status    text NOT NULL DEFAULT 'pending'
                      CHECK (consent_status IN ('pending', 'granted', 'failed')),
    consent_error     text,
    consented_at      timestamptz,
    completed_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE monitors (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id               uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    upn                     text NOT NULL,
    object_id               uuid,
    status                  text NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'authorized', 'needs_reauth', 'needs_update', 'disabled')),
    refresh_token_secret_id uuid REFERENCES secrets (id),
    token_expires_at        timestamptz,
    last_refresh_at         timestamptz,
    refresh_failures        integer NOT NULL DEFAULT 0,
    last_error              text,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX monitors_tenant_upn_idx ON monitors (tenant_id, lower(upn));

CREATE TABLE directory_users (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    upn               text NOT NULL,
    email             text,
    display_name      text,
    object_id         uuid,
    external_id       text,                 -- the telephony platform's own id
    monitor_id        uuid REFERENCES monitors (id) ON DELETE SET NULL,
    resolution_status text NOT NULL DEFAULT 'pending'
                      CHECK (resolution_status IN ('pending', 'resolved', 'not_found', 'disabled', 'duplicate')),
    resolution_error  text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX directory_users_tenant_upn_idx ON directory_users (tenant_id, lower(upn));
CREATE UNIQUE INDEX directory_users_tenant_object_idx ON directory_users (tenant_id, object_id);
CREATE INDEX directory_users_monitor_idx ON directory_users (monitor_id);

CREATE TABLE subscriptions (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    monitor_id           uuid NOT NULL UNIQUE REFERENCES monitors (id) ON DELETE CASCADE,
    graph_id             text UNIQUE,
    resource             text NOT NULL,
    expires_at           timestamptz,
    client_state_hash    bytea,
    cert_key_id          text,
    user_count           integer NOT NULL DEFAULT 0,
    last_notification_at timestamptz,
    last_error           text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_expires_idx ON subscriptions (expires_at);

-- Raw notification items, committed before Graph gets its 202.
CREATE TABLE inbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at     timestamptz NOT NULL DEFAULT now(),
    kind            text NOT NULL CHECK (kind IN ('change', 'lifecycle')),
    subscription_id text NOT NULL,
    payload         jsonb NOT NULL
);

CREATE TABLE presence (
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_object_id uuid NOT NULL,
    availability   text NOT NULL,
    activity       text NOT NULL,
    sequence       bigint NOT NULL,
    observed_at    timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_object_id)
);

CREATE TABLE presence_events (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_object_id uuid NOT NULL,
    sequence       bigint NOT NULL,
    availability   text NOT NULL,
    activity       text NOT NULL,
    mapped_state   text NOT NULL,
    source         text NOT NULL CHECK (source IN ('notification', 'repair', 'api')),
    observed_at    timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX presence_events_tenant_idx ON presence_events (tenant_id, id);

CREATE TABLE endpoints (
    id                         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id                  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url                        text NOT NULL,
    signing_secret_id          uuid NOT NULL REFERENCES secrets (id),
    previous_signing_secret_id uuid REFERENCES secrets (id),
    enabled                    boolean NOT NULL DEFAULT true,
    disabled_reason            text,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX endpoints_tenant_idx ON endpoints (tenant_id);

-- The outbox: one row per event per endpoint.
CREATE TABLE deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    endpoint_id     uuid NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    event_id        bigint NOT NULL REFERENCES presence_events (id) ON DELETE CASCADE,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at) WHERE status = 'pending';

CREATE TABLE mapping_rules (
    tenant_id  uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    rules      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         text NOT NULL,
    prefix       text NOT NULL UNIQUE,   -- shown to people, used to find the row
    hash         bytea NOT NULL,         -- SHA-256 of the whole key; the key itself is never stored
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE TABLE staff (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email        text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    role         text NOT NULL DEFAULT 'support' CHECK (role IN ('support', 'admin')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    disabled_at  timestamptz
);
CREATE UNIQUE INDEX staff_email_idx ON staff (lower(email));

-- Browser sessions (alexedwards/scs pgxstore's layout).
CREATE TABLE sessions (
    token  text PRIMARY KEY,
    data   bytea NOT NULL,
    expiry timestamptz NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expiry);

CREATE TABLE audit_log (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    tenant_id uuid REFERENCES tenants (id) ON DELETE SET NULL,
    actor     text NOT NULL,
    action    text NOT NULL,
    detail    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, at);
