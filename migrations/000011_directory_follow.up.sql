-- Resolved users are followed with Graph's users delta query, so an
-- account disabled, deleted or renamed after it was resolved stops being
-- monitored (or shows its new UPN) without anyone re-importing the roster.
CREATE TABLE directory_follow (
    tenant_id  uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    delta_link text,          -- after the last complete round; NULL: the next round reads everyone
    synced_at  timestamptz,
    last_error text
);
