-- Our encryption certificates for rich notifications: Graph encrypts each
-- item's key to one of them (docs/graph.md#rich-notifications). The private key is sealed
-- in secrets; a certificate stays until no subscription uses it.
CREATE TABLE encryption_certs (
    id                    text PRIMARY KEY,           -- encryptionCertificateId given to Graph
    certificate           bytea NOT NULL,             -- DER
    private_key_secret_id uuid NOT NULL REFERENCES secrets (id),
    not_after             timestamptz NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    retired_at            timestamptz
);
